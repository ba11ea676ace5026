package dispersy

// RememberStored adds pkt's hash to the verifier's set of stored packets,
// as the engine does when it commits pkt.
func (v *Verifier) RememberStored(pkt []byte) { v.stored.Add(PacketHash(pkt)) }

// Known reports whether Check found in's hash among the stored packets.
func (in *Inbound) Known() bool { return in.known }
