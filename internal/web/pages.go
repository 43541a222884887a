package web

import (
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"example.com/example-function/internal/items"
)

// formView is the data of the create and edit forms.
type formView struct {
	Item    items.Item // ID 0 for a new item
	Name    string
	Desc    string
	Version int64
	// Errors holds each invalid field's message; ErrorList the same in
	// form order, for the error summary.
	Errors    map[string]string
	ErrorList []fieldMessage
}

type fieldMessage struct{ Field, Text string }

type conflictView struct {
	Mine    items.Input
	Current items.Item
	Action  string // "edit" or "delete"
}

// listView is the data of the items list.
type listView struct {
	Items   []items.Item
	Query   string
	IsFirst bool
	// NewestURL and NextURL link the first and the next page; empty when
	// there is none.
	NewestURL, NextURL string
	// Blank fills the <template> row the enhancement script clones.
	Blank items.Item
}

func (s *site) pageList(w http.ResponseWriter, r *http.Request) {
	page, p := parsePage(r, defaultLimit)
	if p != nil {
		s.errorPage(w, r, http.StatusBadRequest)
		return
	}
	list, next, err := s.Items.List(r.Context(), page)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	data := listView{Items: list, Query: page.Query, IsFirst: page.After == nil}
	if !data.IsFirst {
		data.NewestURL = listURL(page.Query, "")
	}
	if next != nil {
		data.NextURL = listURL(page.Query, next.Encode())
	}
	title := "Items"
	if page.Query != "" {
		title = "Search: " + page.Query
	}
	s.render(w, r, http.StatusOK, "list.html", title, data)
}

// listURL links a page of the list, keeping the search.
func listURL(query, cursor string) string {
	v := url.Values{}
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if query != "" {
		v.Set("q", query)
	}
	if len(v) == 0 {
		return "/"
	}
	return "/?" + v.Encode()
}

func (s *site) pageItem(w http.ResponseWriter, r *http.Request) {
	it, ok := s.loadItem(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "item.html", it.Name, it)
}

func (s *site) pageNew(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "form.html", "New item", formView{})
}

func (s *site) pageCreate(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	in := items.Input{Name: r.PostForm.Get("name"), Description: r.PostForm.Get("description")}
	it, err := s.Items.Create(r.Context(), in, userName(r))
	if s.formInvalid(w, r, err, formView{Name: in.Name, Desc: in.Description}, "New item") {
		return
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.Events.ItemCreated(r.Context())
	s.Logger.InfoContext(r.Context(), "item created", slog.Int64("item_id", it.ID))
	http.Redirect(w, r, itemURL(it.ID), http.StatusSeeOther)
}

func (s *site) pageEdit(w http.ResponseWriter, r *http.Request) {
	it, ok := s.loadItem(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "form.html", "Edit "+it.Name,
		formView{Item: it, Name: it.Name, Desc: it.Description, Version: it.Version})
}

func (s *site) pageUpdate(w http.ResponseWriter, r *http.Request) {
	id, version, ok := s.versionedForm(w, r)
	if !ok {
		return
	}
	in := items.Input{Name: r.PostForm.Get("name"), Description: r.PostForm.Get("description")}
	it, err := s.Items.Update(r.Context(), id, in, version, userName(r))
	form := formView{Item: items.Item{ID: id}, Name: in.Name, Desc: in.Description, Version: version}
	if s.formInvalid(w, r, err, form, "Edit item") {
		return
	}
	var conflict *items.ConflictError
	if errors.As(err, &conflict) {
		s.Events.EditConflict(r.Context())
		s.render(w, r, http.StatusConflict, "conflict.html", "Edit conflict",
			conflictView{Mine: in, Current: conflict.Current, Action: "edit"})
		return
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.Events.ItemUpdated(r.Context())
	http.Redirect(w, r, itemURL(it.ID), http.StatusSeeOther)
}

func (s *site) pageConfirmDelete(w http.ResponseWriter, r *http.Request) {
	it, ok := s.loadItem(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "delete.html", "Delete "+it.Name, it)
}

func (s *site) pageDelete(w http.ResponseWriter, r *http.Request) {
	id, version, ok := s.versionedForm(w, r)
	if !ok {
		return
	}
	err := s.Items.Delete(r.Context(), id, version)
	var conflict *items.ConflictError
	if errors.As(err, &conflict) {
		s.Events.EditConflict(r.Context())
		s.render(w, r, http.StatusConflict, "conflict.html", "Edit conflict",
			conflictView{Current: conflict.Current, Action: "delete"})
		return
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	s.Events.ItemDeleted(r.Context())
	s.Logger.InfoContext(r.Context(), "item deleted", slog.Int64("item_id", id))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// loadItem fetches the item named by the path, answering the error page
// itself when it cannot.
func (s *site) loadItem(w http.ResponseWriter, r *http.Request) (items.Item, bool) {
	id, ok := pathID(r)
	if !ok {
		s.errorPage(w, r, http.StatusNotFound)
		return items.Item{}, false
	}
	it, err := s.Items.Get(r.Context(), id)
	if err != nil {
		s.pageError(w, r, err)
		return items.Item{}, false
	}
	return it, true
}

// parseForm reads a urlencoded form body of bounded size.
func (s *site) parseForm(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.errorPage(w, r, http.StatusRequestEntityTooLarge)
		} else {
			s.errorPage(w, r, http.StatusBadRequest)
		}
		return false
	}
	return true
}

// formInvalid re-renders the form with the field messages when err is a
// validation error, keeping what the user typed.
func (s *site) formInvalid(w http.ResponseWriter, r *http.Request, err error, form formView, title string) bool {
	var verr *items.ValidationError
	if !errors.As(err, &verr) {
		return false
	}
	form.Errors = map[string]string{}
	for _, f := range verr.Fields {
		form.Errors[f.Field] = f.Message
	}
	for _, f := range []struct{ field, label string }{{"name", "Name"}, {"description", "Description"}} {
		if msg, ok := form.Errors[f.field]; ok {
			form.ErrorList = append(form.ErrorList, fieldMessage{Field: f.field, Text: f.label + " " + msg + "."})
		}
	}
	s.render(w, r, http.StatusUnprocessableEntity, "form.html", title, form)
	return true
}

func (s *site) pageError(w http.ResponseWriter, r *http.Request, err error) {
	if s.databaseTimedOut(w, r, err) {
		return
	}
	s.errorPage(w, r, s.errorStatus(r.Context(), err))
}

// versionedForm reads the item id of the path and the form with the
// version the user opened, answering the error page itself when it cannot.
func (s *site) versionedForm(w http.ResponseWriter, r *http.Request) (id, version int64, ok bool) {
	if id, ok = pathID(r); !ok {
		s.errorPage(w, r, http.StatusNotFound)
		return 0, 0, false
	}
	if !s.parseForm(w, r) {
		return 0, 0, false
	}
	if version, ok = formVersion(r); !ok {
		s.errorPage(w, r, http.StatusBadRequest)
		return 0, 0, false
	}
	return id, version, true
}

func formVersion(r *http.Request) (int64, bool) {
	v, err := strconv.ParseInt(r.PostForm.Get("version"), 10, 64)
	return v, err == nil && v > 0
}

func itemURL(id int64) string { return "/items/" + strconv.FormatInt(id, 10) }
