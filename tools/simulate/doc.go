// Command simulate runs a dispersy-go community on the deterministic
// simulator (dispersytest.Sim: virtual time, in-memory stores, a lossy
// network model) and measures how fast and how cheaply M full-sync
// messages reach every one of N peers. It is how docs/performance.md's
// convergence numbers and docs/img's coverage plots are made.
//
// # Usage
//
//	go run ./tools/simulate -peers N -messages M -loss P -seed S [-dup P] [-latency D] [-json]
//	go run ./tools/simulate -peers 1000 -messages 1000 -loss 0.1 -compare -plot coverage.png
//
// A run has three phases. The peers start (peer 0 is every other peer's
// bootstrap address) and the overlay warms up for -warmup of virtual time
// (default 1m: twelve walk steps). Then M messages of the debug community's
// FullSyncText type (200 bytes on the wire, the size of the messages in
// Dispersy's own emulations) are created by peers drawn at random from the
// seed, all at one instant or evenly over -spread. Then the simulation runs
// until every peer stores every message, or until -limit of virtual time
// has passed since the first creation.
//
// -params ours runs dispersy.DefaultConfig(), -params dispersy runs
// dispersy.DispersyConfig() (Python Dispersy's parameters: pull-only sync,
// no forwarding), and -compare runs both on the same seed: same peers, same
// keys, same creators, same messages.
//
// Flags:
//
//	-peers N        peers (default 100; 2 .. 2^24-2)
//	-messages M     messages to create (default 100)
//	-loss P         probability that a datagram is lost, [0, 1) (default 0)
//	-dup P          probability that a datagram arrives twice (default 0)
//	-latency D      one-way latency (default 20ms)
//	-jitter D       extra delay drawn uniformly from [0, D] (default 10ms)
//	-seed S         the seed of everything random (default 1)
//	-params SET     ours or dispersy (default ours)
//	-compare        run both parameter sets; -params is then refused
//	-scenario NAME  default, chaos or latejoin (see Scenarios, Late join
//	                and -h)
//	-warmup D       virtual time before the first creation (default 1m)
//	-spread D       spread the creations evenly over D (default 0)
//	-limit D        give up D after the first creation (default 2h)
//	-json           print one JSON object; with -compare
//	                {"ours": {...}, "dispersy": {...}}
//	-csv FILE       write "round,coverage" (with -compare
//	                "round,ours,dispersy"), one line per walk round
//	-plot FILE.png  draw the coverage per walk round (both curves with
//	                -compare)
//	-rate B         every peer's upload and download rate, bytes/s
//	                (default 0: unlimited; latejoin 10000000)
//	-reconcile      turn the catch-up protocol on (see Late join)
//	-walktarget N   the walker's target of verified peers, Walker.WalkTarget
//	                (0: walk at every step; default the parameter set's)
//	-v              print the coverage at every walk round on stderr
//	-cpuprofile F   write a CPU profile (runtime/pprof)
//	-memprofile F   write a heap profile taken at the end of each run,
//	                while the peers are still in memory
//	-h              print the help
//
// # Output
//
// The JSON object echoes the arguments (scenario, params, peers, messages,
// loss, dup, latency, jitter, seed, warmup, spread, limit) and reports:
//
//	converged           every peer stores every message (and, checked, the
//	                    same set)
//	rounds_to_full      (convergence − first creation) / Walker.StepInterval,
//	                    one decimal; null when not converged. A round is one
//	                    walker step of every peer (5 s by default), so a
//	                    shorter walk interval does not change the count.
//	coverage            fraction of (peer, message) pairs held at the end
//	coverage_per_round  the same at every whole round since the first
//	                    creation (index = round), up to the first whole
//	                    round at or after convergence
//	sim_seconds         virtual seconds from the first creation to the end
//	message_bytes       wire size of each message (200)
//	bytes_sent          bytes of all datagrams peers sent from the first
//	                    creation to the end: walker traffic (introduction
//	                    requests with their bloom filters, responses,
//	                    punctures), sync answers and pushes
//	bytes_delivered     bytes of all datagrams delivered to peers in that
//	                    window (sent minus lost, plus duplicates)
//	bytes_lacked        Σ over peers of the bytes of the messages the peer
//	                    did not create itself: M × (N−1) × 200, the least
//	                    any protocol must deliver
//	bytes_ratio         bytes_delivered / bytes_lacked (1.0 is the physical
//	                    limit; everything above is overhead and duplicates)
//	copies              datagrams carrying one of the M messages delivered to
//	                    peers (message id byte 22 is FullSyncText's)
//	copies_per_message  copies / (M × N): how many times a peer received
//	                    each message, on average (about 1 − 1/N is ideal)
//	digest              hex SHA-256 of peer 0's sorted message hashes
//	                    (dispersytest.Digest); only when converged
//	wall_seconds        real time of the run, setup included
//	cpu_seconds         CPU time (user + system, GC included) the process
//	                    used in the run; 0 where the OS does not tell. On a
//	                    busy machine it is the steadier of the two.
//	heap_mb             peak runtime.MemStats.HeapInuse, sampled every round
//	sys_mb              runtime.MemStats.Sys at the end (memory the process
//	                    obtained from the OS)
//	lost                (chaos only) created messages some online peer
//	                    lacks at the end
//	stops, restarts     (chaos only) peers stopped and restarted
//	events              (chaos only) the partition and its healing
//
// Without -json the same numbers are printed as lines for people, the
// chaos counts as "lost:", "stops:", "restarts:" and one "event:" line per
// event.
//
// Exit status: 0 when the simulation ran, whether it converged or not (the
// report says); 1 when it failed or an output file could not be written
// (one sentence on stderr); 2 for a bad flag (the problem and a usage line
// on stderr).
//
// # Scenarios
//
// -scenario picks an entry of the scenarios table (sim.go). A scenario has
// optional hooks: setup runs once every peer has joined, before the
// warm-up; round runs at every whole walk round from the first creation on
// (round 0 before the messages are created). They get the running world:
// the dispersytest.Sim (peers, network, Stop/Restart, Partition, SetLink),
// the community id and the options. "default" has no hooks. A fault
// scenario (churn, partitions, a lossy region) is a new table entry; the
// metrics and the convergence test need no change, as long as stopped
// peers are back before the end (a stopped peer holds nothing new and
// keeps the run from converging).
//
// -scenario dht (dht.go) runs DHT nodes instead (dht/dhtsim): -peers N,
// -values V stored by random peers, -lookups L find-value lookups from random
// peers, -loss, -churn F (a fraction F of the peers leave during the
// lookups, the storers first, as many fresh ones join), -adversaries A
// (peers answering every query with themselves); -json reports
// lookup_success, hops_p50, hops_p99, lookup_seconds_p50, lookup_seconds_p99,
// values_available, bytes_per_lookup.
//
// # Invariants
//
//   - Determinism: the same flags give the same output, byte for byte,
//     except wall_seconds, cpu_seconds, heap_mb and sys_mb. Everything random (the
//     network, every engine, the creators) is drawn from sources seeded by
//     -seed; nothing depends on map order or the wall clock.
//   - Convergence is read from the peers' stores, not inferred from
//     traffic: the run stops at the first network event after which every
//     peer stores all M messages, so rounds_to_full has the resolution of
//     one event, not of one polling interval.
//   - The peers run the debug community's definition (its master key and
//     message types) with handlers that only count, not
//     dispersytest.DebugCommunity, whose record of every handled message
//     would keep every received packet alive (30 % of the live heap of a
//     300 × 300 run). The wire traffic is the same.
//
// # Late join (-scenario latejoin)
//
//	go run ./tools/simulate -scenario latejoin -messages 100000 -json
//	go run ./tools/simulate -scenario latejoin -compare -plot docs/img/latejoin.svg
//
// -peers holders (default 10) store the same -messages FullSyncText
// messages (default 10,000, 200 bytes each): created once on a standalone
// engine of peer 0 and copied into every holder's MemStore before its
// engine starts, so no time is spent syncing them. Every peer has an access
// link of -rate bytes per second each way (default 10 MB/s; the
// dispersytest.PeerLink bandwidth model with its 256 KiB queues), latency
// -latency (20 ms) and no jitter. After -warmup one more peer joins with
// an empty store; the run ends when it holds every message (its set is
// checked against peer 0's) or after -limit (default 12h). -reconcile
// turns the catch-up protocol on (default when the build has it, except
// with -params dispersy: Python Dispersy has none). The JSON object:
//
//	caught_up           the joiner holds every message
//	held                messages it holds at the end
//	catchup_seconds     virtual time from the join until it held all
//	catchup_rounds      the same in walk steps
//	bytes_lacked        Σ of the messages' wire sizes
//	bytes_received      bytes of every datagram delivered to the joiner
//	transfer_seconds    bytes_lacked / -rate: the physical limit
//	round_trip_seconds  2 × latency + jitter
//	goal_seconds        transfer_seconds + 10 round trips (issue #13's goal)
//	catchup_bytes_ratio bytes_received / bytes_lacked
//	queue_drops         datagrams dropped at full link queues (every peer)
//	loss_drops          datagrams lost to -loss
//	setup_seconds       wall time creating and preloading the messages
//	catchup             the joiner's catchup.Stats at the end (with
//	                    -reconcile)
//	holders_catchup     the sum of the holders' catchup.Stats
//	joiner_drops        what the joiner's engine dropped, by reason
//	held_over_time      [seconds since the join, messages held] whenever
//	                    the count changed (at most one point per 10 ms)
//
// plus the echoed flags and wall_seconds, cpu_seconds, heap_mb, sys_mb.
// -compare runs "reconcile" (when built in), "bloom" (our parameters,
// bloom sync only) and "dispersy" (DispersyConfig) and prints
// {"reconcile": …, "bloom": …, "dispersy": …}; -csv writes
// "run,seconds,held" and -plot draws the held_over_time curves on a
// logarithmic time axis (SVG when the file name ends in .svg).
//
// # Speed and memory
//
// One process, one goroutine (plus the garbage collector). Most of the CPU
// is Ed25519 verification: each peer verifies each message it receives.
// Memory grows with N × M stored messages (MemStore records and indexes).
// On a 2-core AMD EPYC, 1,000 peers × 1,000 messages with 10% loss take
// about 140 s of CPU and 2.5 GiB of peak heap per parameter set; 1,000
// peers × 1 message take 7 s (ours) to 25 s (dispersy) of CPU and 150 MiB.
// docs/performance.md has the measured numbers.
package main
