package database

import (
	"strings"
	"testing"
)

// TestQueryPlans pins how SQLite runs each hot query, so that a schema or
// query change cannot silently turn one into a table scan or a full sort.
func TestQueryPlans(t *testing.T) {
	s := openTemp(t, Options{})
	defer s.Close()
	mod, _, _ := moduloClause("global_time", 3, 1)
	smod, _, _ := moduloClause("s.global_time", 3, 1)
	for _, tc := range []struct {
		name, query string
		want        []string // substrings of the plan, in order
		not         []string
	}{
		{"Has", hasSQL, []string{"SEARCH sync USING PRIMARY KEY (community=? AND global_time=? AND member=?)"}, nil},
		{"Get", getSQL, []string{"SEARCH s USING PRIMARY KEY (community=? AND global_time=? AND member=?)", "SEARCH d USING PRIMARY KEY"}, nil},
		{"ByGlobalTimes", byGlobalTimesSQL, []string{"PRIMARY KEY (community=? AND global_time=? AND member=?)"}, []string{"SCAN s"}},
		// Bloom ranges and sync answers read consecutive rows in key order,
		// with no sort (ties within a global time are sorted in Go).
		{"Scan ascending", scanSQL([]uint8{1, 2}, false, ""),
			[]string{"SEARCH sync USING PRIMARY KEY (community=? AND global_time>?)"}, []string{"TEMP B-TREE"}},
		{"Scan descending modulo", scanSQL([]uint8{1, 2}, true, mod),
			[]string{"SEARCH sync USING PRIMARY KEY (community=? AND global_time<?)"}, []string{"TEMP B-TREE"}},
		{"Range", rangeSQL(false, false, smod),
			[]string{"SEARCH s USING PRIMARY KEY (community=? AND global_time>? AND global_time<?)", "SEARCH d USING PRIMARY KEY"}, []string{"TEMP B-TREE"}},
		{"Range descending", rangeSQL(true, true, ""),
			[]string{"SEARCH s USING PRIMARY KEY (community=? AND global_time>? AND global_time<?)"}, []string{"TEMP B-TREE"}},
		{"MaxGlobalTime", maxGlobalTimeSQL, []string{"SEARCH sync USING PRIMARY KEY (community=?)"}, nil},
		{"LastSequence", lastSequenceSQL,
			[]string{"COVERING INDEX sync_member_sequence (community=? AND member=? AND message_id=?", "COVERING INDEX sync_member_type (community=? AND member=? AND message_id=?)"}, nil},
		{"BySequence", bySequenceSQL(true), []string{"INDEX sync_member_sequence (community=? AND member=? AND message_id=? AND sequence>? AND sequence<?)"}, nil},
		{"History", historySQL, []string{"INDEX sync_member_type (community=? AND member=? AND message_id=?)"}, []string{"TEMP B-TREE"}},
		{"History of a pair", pairHistorySQL, []string{"INDEX double_signed_pair (community=? AND member1=? AND member2=?)", "SEARCH s USING PRIMARY KEY"}, nil},
		{"Trim", writeSQL[wTrim], []string{"INDEX sync_member_type (community=? AND member=? AND message_id=?)"}, []string{"TEMP B-TREE", "SCAN"}},
		{"Prune", writeSQL[wPrune], []string{"SEARCH sync USING PRIMARY KEY (community=? AND global_time>? AND global_time<?)"}, nil},
	} {
		rows, err := s.writer.Query("EXPLAIN QUERY PLAN "+tc.query, 1, []byte{0}, 1, 1, 1, 1)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		text := strings.Join(plan, "\n")
		rest := text
		for _, w := range tc.want {
			i := strings.Index(rest, w)
			if i < 0 {
				t.Errorf("%s: plan lacks %q:\n%s", tc.name, w, text)
				break
			}
			rest = rest[i+len(w):]
		}
		for _, n := range tc.not {
			if strings.Contains(text, n) {
				t.Errorf("%s: plan has %q:\n%s", tc.name, n, text)
			}
		}
	}
}
