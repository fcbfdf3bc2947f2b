package runtime_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"sort"
	"strings"
	"testing"
)

// maxExported bounds the API users read in godoc. What only transports
// need lives in runtime/transport, HTTP-only types in httptransport; an
// identifier that would push past this bound probably belongs there.
const maxExported = 50

// TestAPISize counts the package's exported identifiers (top-level names
// and exported methods) and checks that each has a doc comment.
func TestAPISize(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi os.FileInfo) bool {
		return !strings.HasSuffix(fi.Name(), "_test.go")
	}, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	undocumented := func(name string, doc *ast.CommentGroup) {
		short := name[strings.LastIndex(name, ".")+1:]
		if doc == nil || !strings.HasPrefix(doc.Text(), short) {
			t.Errorf("%s has no doc comment starting with its name", name)
		}
	}
	for _, f := range pkgs["runtime"].Files {
		for _, decl := range f.Decls {
			switch d := decl.(type) {
			case *ast.FuncDecl:
				if !d.Name.IsExported() {
					continue
				}
				name := d.Name.Name
				if d.Recv != nil {
					recv := d.Recv.List[0].Type
					if star, ok := recv.(*ast.StarExpr); ok {
						recv = star.X
					}
					if id, ok := recv.(*ast.Ident); !ok || !id.IsExported() {
						continue
					}
					name = recv.(*ast.Ident).Name + "." + name
				}
				names = append(names, name)
				undocumented(name, d.Doc)
			case *ast.GenDecl:
				for _, spec := range d.Specs {
					switch s := spec.(type) {
					case *ast.TypeSpec:
						if s.Name.IsExported() {
							names = append(names, s.Name.Name)
							doc := s.Doc
							if doc == nil {
								doc = d.Doc
							}
							undocumented(s.Name.Name, doc)
						}
					case *ast.ValueSpec:
						for _, n := range s.Names {
							if n.IsExported() {
								names = append(names, n.Name)
								doc := s.Doc
								if doc == nil {
									doc = d.Doc
								}
								undocumented(n.Name, doc)
							}
						}
					}
				}
			}
		}
	}
	sort.Strings(names)
	t.Logf("%d exported identifiers: %s", len(names), strings.Join(names, " "))
	if len(names) > maxExported {
		t.Errorf("package runtime exports %d identifiers, more than %d", len(names), maxExported)
	}
}
