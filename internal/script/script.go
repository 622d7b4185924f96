// Package script reads the data-driven test scripts of testdata/ directories.
package script

import (
	"bufio"
	"os"
	"strings"
	"testing"
)

// Block is one command of a script and the output it must give.
type Block struct {
	Line     int
	Comments []string
	Command  string
	Expected string
}

// Read parses a script: commands, each optionally followed by "----", the output it must
// print and a blank line; "#" lines outside outputs are comments.
func Read(t *testing.T, path string) []Block {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var blocks []Block
	var cur *Block
	var comments []string
	inExpected := false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && strings.HasPrefix(line, "#"):
			comments = append(comments, line)
		case cur == nil && strings.TrimSpace(line) == "":
		case cur == nil:
			cur = &Block{Line: n, Command: line, Comments: comments}
			comments = nil
		case !inExpected && strings.HasPrefix(line, "#"):
			blocks = append(blocks, *cur)
			cur, comments = nil, []string{line}
		case !inExpected && line == "----":
			inExpected = true
		case !inExpected && strings.TrimSpace(line) == "":
			blocks = append(blocks, *cur)
			cur = nil
		case !inExpected:
			blocks = append(blocks, *cur)
			cur = &Block{Line: n, Command: line}
		case strings.TrimSpace(line) == "":
			blocks = append(blocks, *cur)
			cur, inExpected = nil, false
		default:
			cur.Expected += line + "\n"
		}
	}
	if cur != nil {
		blocks = append(blocks, *cur)
	}
	return blocks
}
