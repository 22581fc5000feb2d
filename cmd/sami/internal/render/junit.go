package render

import (
	"encoding/xml"
	"fmt"
	"io"
	"time"
)

// JUnitSuite is one test suite of JUnit XML (CI systems show each case).
type JUnitSuite struct {
	Name  string
	Time  time.Duration
	Cases []JUnitCase
}

// JUnitCase is one test case; Failure empty means passed.
type JUnitCase struct {
	Name    string
	Class   string
	Failure string
	Output  string // system-out
}

// JUnit writes suites as JUnit XML (the Jenkins/GitLab/GitHub flavour).
func JUnit(w io.Writer, suites []JUnitSuite) error {
	type failure struct {
		Message string `xml:"message,attr"`
		Text    string `xml:",chardata"`
	}
	type tcase struct {
		Name    string   `xml:"name,attr"`
		Class   string   `xml:"classname,attr"`
		Time    string   `xml:"time,attr"`
		Failure *failure `xml:"failure,omitempty"`
		Out     string   `xml:"system-out,omitempty"`
	}
	type suite struct {
		Name     string  `xml:"name,attr"`
		Tests    int     `xml:"tests,attr"`
		Failures int     `xml:"failures,attr"`
		Time     string  `xml:"time,attr"`
		Cases    []tcase `xml:"testcase"`
	}
	type root struct {
		XMLName  xml.Name `xml:"testsuites"`
		Tests    int      `xml:"tests,attr"`
		Failures int      `xml:"failures,attr"`
		Suites   []suite  `xml:"testsuite"`
	}
	var r root
	for _, s := range suites {
		out := suite{Name: s.Name, Tests: len(s.Cases), Time: fmt.Sprintf("%.3f", s.Time.Seconds())}
		for _, c := range s.Cases {
			tc := tcase{Name: c.Name, Class: c.Class, Time: "0", Out: c.Output}
			if c.Failure != "" {
				tc.Failure = &failure{Message: c.Failure, Text: c.Failure}
				out.Failures++
			}
			out.Cases = append(out.Cases, tc)
		}
		r.Tests += out.Tests
		r.Failures += out.Failures
		r.Suites = append(r.Suites, out)
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(r); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
