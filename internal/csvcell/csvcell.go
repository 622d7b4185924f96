// Package csvcell keeps values that anyone could have sent (a user id from the public write
// key) from running as formulas when an exported CSV file is opened in a spreadsheet.
package csvcell

import "strings"

// Safe returns v so that a spreadsheet reads it as text: a value that begins like a formula
// (=, @, a tab or carriage return, or + or - followed by anything but a plain number) gets a
// leading apostrophe, which spreadsheets hide. Phone numbers in E.164 (+31...) and negative
// numbers are kept as they are.
func Safe(v string) string {
	if v == "" {
		return v
	}
	switch v[0] {
	case '=', '@', '\t', '\r':
		return "'" + v
	case '+', '-':
		if !plainNumber(v[1:]) {
			return "'" + v
		}
	}
	return v
}

func plainNumber(s string) bool {
	if s == "" {
		return false
	}
	return strings.IndexFunc(s, func(r rune) bool {
		return (r < '0' || r > '9') && r != ' ' && r != '.' && r != '(' && r != ')'
	}) < 0
}

// Row applies Safe to every cell of a row, in place, and returns it.
func Row(cells []string) []string {
	for i, c := range cells {
		cells[i] = Safe(c)
	}
	return cells
}
