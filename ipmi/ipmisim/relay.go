package ipmisim

import (
	"net"
	"sync"
	"sync/atomic"
)

// Relay is a UDP relay in front of a simulator that counts datagrams:
// whatever the client, Requests is the number of IPMI messages it sent.
// With Mangle it also plays a hostile BMC (hostile.go).
type Relay struct {
	conn     *net.UDPConn
	target   *net.UDPAddr
	requests atomic.Int64
	mu       sync.Mutex
	// one upstream socket per client address, so replies find their way back
	upstream map[string]*net.UDPConn
	mangle   *mangleState // nil: forward untouched
	done     chan struct{}
}

// NewRelay listens on a free loopback port and forwards to target.
func NewRelay(target string) (*Relay, error) {
	taddr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	r := &Relay{conn: c, target: taddr, upstream: map[string]*net.UDPConn{}, done: make(chan struct{})}
	go r.serve()
	return r, nil
}

// Port is the relay's UDP port on 127.0.0.1.
func (r *Relay) Port() int { return r.conn.LocalAddr().(*net.UDPAddr).Port }

// Requests is the number of datagrams relayed from clients so far.
func (r *Relay) Requests() int { return int(r.requests.Load()) }

// SetTarget points the relay at another simulator, as if the BMC at the
// relay's address were replaced.
func (r *Relay) SetTarget(target string) error {
	taddr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.target = taddr
	for k, u := range r.upstream {
		u.Close()
		delete(r.upstream, k)
	}
	if r.mangle != nil {
		r.mangle.mu.Lock()
		clear(r.mangle.sessions)
		r.mangle.mu.Unlock()
	}
	return nil
}

// Reset zeroes the count.
func (r *Relay) Reset() { r.requests.Store(0) }

// Close stops the relay.
func (r *Relay) Close() error {
	err := r.conn.Close()
	r.mu.Lock()
	for _, u := range r.upstream {
		u.Close()
	}
	r.mu.Unlock()
	<-r.done
	return err
}

func (r *Relay) serve() {
	defer close(r.done)
	buf := make([]byte, 65536)
	for {
		n, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			return
		}
		r.requests.Add(1)
		r.mu.Lock()
		up, ok := r.upstream[from.String()]
		if !ok {
			up, err = net.DialUDP("udp", nil, r.target)
			if err != nil {
				r.mu.Unlock()
				continue
			}
			r.upstream[from.String()] = up
			go r.back(up, from)
		}
		ms := r.mangle
		r.mu.Unlock()
		if ms != nil {
			ms.sawRequest(from.String(), buf[:n])
		}
		_, _ = up.Write(buf[:n])
	}
}

func (r *Relay) back(up *net.UDPConn, client *net.UDPAddr) {
	buf := make([]byte, 65536)
	for {
		n, err := up.Read(buf)
		if err != nil {
			return
		}
		ms := r.mangler()
		if ms == nil {
			_, _ = r.conn.WriteToUDP(buf[:n], client)
			continue
		}
		for _, d := range ms.replies(client.String(), buf[:n]) {
			_, _ = r.conn.WriteToUDP(d, client)
		}
	}
}
