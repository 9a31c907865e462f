// Command check builds deploy/k8s's kustomizations in-process (krusty), decodes every object
// strictly into its k8s.io/api type and checks that the objects agree with each other.
// Run from deploy/k8s/check: `go run .` (or `go run . DIR...`, paths of kustomizations).
// Exit status 1 on any problem.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Dirs are the kustomizations checked by default, relative to deploy/k8s/check.
var Dirs = []string{"../base", "../overlays/local"}

func main() {
	dirs := Dirs
	if len(os.Args) > 1 {
		dirs = os.Args[1:]
	}
	failed := false
	for _, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", d, err)
			failed = true
			continue
		}
		objs, err := Build(filesys.MakeFsOnDisk(), abs)
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL %s: %v\n", d, err)
			failed = true
			continue
		}
		problems := Check(objs)
		if len(problems) > 0 {
			fmt.Fprintf(os.Stderr, "FAIL %s: %d problem(s):\n", d, len(problems))
			for _, p := range problems {
				fmt.Fprintf(os.Stderr, "  - %s\n", p)
			}
			failed = true
			continue
		}
		fmt.Printf("ok   %s: %d objects\n", d, len(objs))
	}
	if failed {
		os.Exit(1)
	}
}
