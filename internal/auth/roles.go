package auth

import (
	"context"
	"net/http"
	"slices"
)

// Role is what a caller may do. Roles are ordered: an editor is also a
// viewer.
type Role int

// Roles.
const (
	RoleNone   Role = iota // authenticated but granted nothing: 403
	RoleViewer             // reads pages and GETs the API
	RoleEditor             // also creates, edits and deletes
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleEditor:
		return "editor"
	}
	return "none"
}

// Allows reports whether the role may use the HTTP method. Only GET and
// HEAD count as reading; every other method, OPTIONS included, needs an
// editor, so a new route cannot open a write path to viewers by accident.
func (r Role) Allows(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead:
		return r >= RoleViewer
	}
	return r >= RoleEditor
}

// AnyUser in a users list grants the role to every authenticated caller;
// useful with IAP or Cloud Run IAM, where Google has already decided who
// may reach the service and the tokens carry no groups.
const AnyUser = "*"

// Policy maps users and groups to roles. An empty Policy grants nothing:
// every authenticated caller gets 403, the safe failure for a forgotten
// setting.
type Policy struct {
	ViewerGroups []string
	EditorGroups []string
	// User entries match User.Name case-insensitively (ASCII only);
	// AnyUser matches everyone.
	ViewerUsers []string
	EditorUsers []string
}

// RoleOf returns the highest role the policy grants u.
func (p Policy) RoleOf(u User) Role {
	switch {
	case p.grants(p.EditorUsers, p.EditorGroups, u):
		return RoleEditor
	case p.grants(p.ViewerUsers, p.ViewerGroups, u):
		return RoleViewer
	}
	return RoleNone
}

// Empty reports whether the policy grants nothing to anyone.
func (p Policy) Empty() bool {
	return len(p.ViewerGroups)+len(p.EditorGroups)+len(p.ViewerUsers)+len(p.EditorUsers) == 0
}

func (p Policy) grants(users, groups []string, u User) bool {
	if u.Name == "" {
		return false
	}
	for _, name := range users {
		if name == AnyUser || asciiEqualFold(name, u.Name) {
			return true
		}
	}
	return slices.ContainsFunc(groups, u.InGroup)
}

type roleKey struct{}

// WithRole returns ctx carrying the caller's role.
func WithRole(ctx context.Context, r Role) context.Context {
	return context.WithValue(ctx, roleKey{}, r)
}

// RoleFromContext returns the role the middleware granted, so pages can
// hide buttons a viewer may not use. ok is false when no policy ran.
func RoleFromContext(ctx context.Context) (r Role, ok bool) {
	r, ok = ctx.Value(roleKey{}).(Role)
	return r, ok
}
