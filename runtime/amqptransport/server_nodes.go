package amqptransport

// nodeRing is the broker addresses a server connection may use: the URL
// given to Start or Serve, then WithNodes's, in that order. Each
// connection (consuming, publishing) keeps its own ring and, on a loss or
// a failed dial, moves on to the next node, round robin: the node it was
// on is the likeliest to be the one that went down.
type nodeRing struct {
	urls []string
	i    int
}

func newNodeRing(first string, others []string) *nodeRing {
	return &nodeRing{urls: append([]string{first}, others...)}
}

// next returns the address to dial now and moves the ring on.
func (r *nodeRing) next() string {
	u := r.urls[r.i%len(r.urls)]
	r.i++
	return u
}
