// Package docs holds the reference pages of the repository as Markdown and
// no code. Its test keeps every relative link and #anchor in the Markdown
// files, and every pointer to README.md or docs/*.md written in code and
// configuration files, aimed at a file and a heading that exist.
package docs
