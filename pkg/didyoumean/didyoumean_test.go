package didyoumean

import (
	"fmt"
	"testing"
)

func TestDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"driver", "driver", 0}, {"drivr", "driver", 1}, {"dirver", "driver", 1},
		{"adress", "address", 1}, {"ab", "ba", 1}, {"key-file", "keyfile", 1}, {"abc", "", 3},
		{string(make([]byte, 65)), "x", 99},
	} {
		if got := Distance(tc.a, tc.b); got != tc.want {
			t.Errorf("Distance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestClosest(t *testing.T) {
	known := []string{"address", "driver", "domain", "location"}
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{"drivr", 2, "driver"}, {"adres", 2, "address"}, {"domian", 2, "domain"}, {"protocol", 2, ""}, {"locaton", 0, ""},
	} {
		if got := Closest(tc.s, known, tc.max); got != tc.want {
			t.Errorf("Closest(%q, max %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
}

func ExampleClosest() {
	fmt.Println(Closest("drivr", []string{"address", "driver"}, 2))
	// Output: driver
}
