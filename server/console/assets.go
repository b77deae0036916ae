package console

import (
	"embed"
	"io/fs"
)

// Assets are the console's built files: index.html and the content-hashed
// scripts and styles it names. ui/build.mjs writes them; CI rebuilds them
// and fails when they differ from what is committed.
//
//go:embed assets
var embedded embed.FS

// Assets returns the built console, rooted at its index.html.
func Assets() fs.FS {
	sub, err := fs.Sub(embedded, "assets")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}
