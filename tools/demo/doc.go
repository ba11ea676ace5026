// Command demo runs a small chat community in one process, over real UDP on
// the loopback address, with one SQLite store per peer, and shows the
// messages spreading until every peer holds every one.
//
// Each peer is a dispersy.Node on a dispersy/udp endpoint and a database
// store, joined to the example community of package
// github.com/dispersy-go/dispersy/examples/chat. Peers find each other by
// walking from peer 0's address; once every peer has two verified
// candidates (peers it exchanged messages with recently; one with two
// peers), the publishers (the first -publishers peers, default all) post
// their share of the chat lines between two status updates (the second
// replaces the first: the status type keeps the newest per member), and
// peer 0, which signs with the community's master key, posts a moderator
// announcement (a type only permitted members may create). The peers
// converge through bloom-filter sync.
//
// # Usage
//
//	go run ./tools/demo                         # 8 peers, 100 chat lines
//	go run ./tools/demo -peers 16 -messages 2000 -loss 0.3
//	go run ./tools/demo -dir ./stores           # keep the store files
//	go run ./tools/demo -peers 20 -messages 1000 -publishers 5 -json -idle 5s
//	go run ./tools/demo -h
//
// While the messages spread, a progress bar on stderr counts the chat lines
// every peer holds ("[#####.....] 62/100 messages on all peers", redrawn in
// place on a terminal, one line per second otherwise). When every peer
// holds every chat line, status and announcement, the demo prints one line
// on stdout and exits 0:
//
//	converged: peers=8 messages=100 seconds=3.2 bytes=123456
//
// seconds counts from the moment the messages were created; bytes is
// everything the peers sent, datagrams dropped by -loss included. If the
// peers do not get ready or do not converge within -timeout (counted from
// the start), the demo lists on stderr which peers lack how many messages
// of which type, ends with a "hint:" line saying what to change (a shorter
// -step when -timeout holds few walker steps, a lower -loss, a longer
// -timeout), and exits 1.
//
// # Measuring (-json, -idle, -cpuprofile)
//
// With -json the demo prints, instead of the summary, one JSON object
// (also when it fails): peers, messages (chat lines expected on every
// peer), publishers, step, loss, ready, converged, ready_seconds (from the
// start until every peer has its verified candidates), seconds (from the
// first message until every peer holds all), cpu_seconds (the whole
// process: user + system, every goroutine, setup included), bytes_sent and
// datagrams_sent (every peer), deliveries ((peer, message) pairs that had
// to cross the network: every message at every peer but its creator, plus
// what peers lacked from an earlier run, minus what is still missing),
// bytes_per_delivery (bytes_sent / deliveries), max_rss_mb (the process's
// peak resident set), missing_at_end ((peer, message) pairs missing when
// the run ended; 0 on success), duplicates (messages the peers received
// and dropped because they held them already), signature_checks,
// skipped_known and skipped_same (the packets the peers' Verifiers checked
// the signatures of, and those they did not: stored lately, left to the
// duplicate check, or byte-identical to one verified lately;
// dispersy.VerifierStats), catchup (the peers' catch-up counters,
// catchup.Stats, summed; with -reconcile),
// do_samples, do_p50_ms, do_p99_ms and do_max_ms (a trivial Node.Do timed
// on every peer every 100 ms from the start until the figures are taken:
// how long the node's own API waits behind its incoming work), shed
// (datagrams the peers dropped unverified under load: overload and
// queue-full) and, with -idle D, idle_seconds and
// idle_cpu_cores: after convergence the peers keep walking for D and the
// process's CPU over it is divided by D. -cpuprofile FILE writes a CPU
// profile of the whole run (go tool pprof -top FILE), -idleprofile FILE
// one of the -idle phase alone. -preload N writes N chat lines (the
// latejoin scenario's history: created and signed once) into every
// peer's store before the nodes start, so idle_cpu_cores can be measured
// at a large history without delivering it (preloaded and
// preload_seconds in the JSON; -timeout counts from the end of it):
//
//	go run ./tools/demo -peers 20 -messages 20 -step 1s -preload 100000 -idle 20s -json
//
// The demo reads every
// store once a second for the progress bar and otherwise only counts rows,
// so its own share of cpu_seconds stays small.
//
// Flags: -peers (2..256, default 8), -messages (default 100), -publishers
// (1..peers, default 0: every peer), -loss (drop each outgoing datagram
// with this probability, 0..0.9, default 0), -timeout (default 1m), -dir
// (keep the stores there; default a temporary folder that is removed),
// -seed (keys, walkers and loss; default 1), -step (walker step interval,
// default 200ms; every candidate lifetime is scaled with it), -port (listen
// on ports P..P+peers-1; default free ports), -json, -idle (default 0: not
// measured), -idleprofile, -preload (default 0; not with -dir),
// -cpuprofile, -http (serve peer 0's status page, status.json
// and metrics on this TCP address, e.g. 127.0.0.1:8080, until the demo ends;
// see package dispersy/debughttp).
//
// # Late join (-scenario latejoin)
//
//	go run ./tools/demo -scenario latejoin -messages 100000
//
// -peers minus one holders (default 4 peers: 3 holders) store -messages chat
// lines (default 10,000): created once on a standalone engine (one
// signature per line) and written straight into each holder's SQLite file
// through the Store API, 5,000 records per transaction, before its node
// starts; the set-up time is reported apart ("set-up: S s" on stderr,
// setup_seconds). Once the holders have found each other, one more peer
// starts with an empty store. Progress lines on stderr show how many lines
// it holds, once a second; the run ends with exactly
//
//	caught-up: messages=M seconds=S bytes=B
//
// where S is the time from the joiner's start until it holds all M and B
// the bytes of the datagrams the joiner received (counted by its endpoint
// decorator). -reconcile (default on when the build has the catch-up
// protocol) turns range-based reconciliation and the paced transfer on;
// -reconcile=false leaves bloom-filter sync alone. With -json the line is
// replaced by one object: scenario, peers, holders, messages, loss, step,
// reconcile, caught_up, held, setup_seconds, ready_seconds,
// catchup_seconds, bytes_lacked (Σ packet sizes of the history),
// bytes_received, datagrams_received, catchup_bytes_ratio (bytes_received /
// bytes_lacked), cpu_seconds, max_rss_mb, kernel_udp_drops (datagrams the
// kernel dropped at full socket receive buffers during the catch-up, the
// whole machine's; Linux only), joiner_drops (what the joiner's engine
// dropped, by reason) and, with -reconcile, catchup
// (the joiner's catchup.Stats; also printed on stderr when it did not
// catch up). A joiner that does not catch up
// within -timeout (counted from its start) ends with exit status 1. -dir,
// -publishers and -idle do not apply.
//
// Exit status: 0 converged; 1 not converged, interrupted, or a local
// failure (a port in use, a folder that cannot be written, a damaged or
// foreign store file), reported in one sentence; 2 a bad flag or value,
// reported with a usage line.
//
// # Invariants
//
//   - The demo never modifies a store file it cannot open: a damaged or
//     foreign file is reported and left as it is (database.Open's
//     guarantee).
//   - Keys derive from -seed, so a second run on the same -dir and -seed
//     continues the same community with the same members; the chat lines
//     already stored count toward the summary.
//   - Loss is applied by a decorator around each peer's endpoint
//     (lossyEndpoint), on outgoing datagrams only; it also counts what
//     -json reports as sent.
package main
