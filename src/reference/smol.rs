//! `SmolStack`: a smoltcp 0.14 `Interface` + TCP sockets behind `link::TcpEndpoint`.
//!
//! smoltcp has no listen backlog: one socket in LISTEN takes one SYN and becomes the
//! connection. A listener here is a pool of sockets; whenever its LISTEN socket has taken a SYN,
//! a fresh one is armed (up to `backlog` unaccepted sockets). `accept` hands out a pool socket
//! once it is synchronized. smoltcp dispatches a segment to the *first* socket that accepts it,
//! so a retransmitted SYN could reach a fresh LISTEN socket sitting in an earlier slot before
//! the connection it belongs to; `handle_packet` swaps the two sockets first (see
//! `route_syn`). A closed handle's socket stays in the set until smoltcp reaches CLOSED.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4};

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet};
use smoltcp::socket::tcp::{self, CongestionControl, RecvError, State};
use smoltcp::time::{Duration as SmolDuration, Instant as SmolInstant};
use smoltcp::wire::{HardwareAddress, IpCidr, IpEndpoint};

use super::convert::{
    listen_endpoint, our_instant, smol_now, state_name, synchronized, tcp_summary,
};
use super::device::{QueueDevice, set_ts_clock, tsval};
use crate::link::endpoint::{Endpoint, TcpEndpoint};
use crate::socket::{SocketError, TcpHandle};
use crate::tcp::Shutdown;
use crate::time::Instant;

/// How the reference stack is configured (docs/reference.md explains each choice).
#[derive(Clone, Debug)]
pub struct SmolConfig {
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
    /// Default route (the peer, on a point-to-point link).
    pub gateway: Ipv4Addr,
    /// Largest IPv4 datagram (Medium::Ip: the MTU is the IP packet size).
    pub mtu: usize,
    /// Per-socket buffers; the receive buffer size also sets the window scale.
    pub rx_buffer: usize,
    pub tx_buffer: usize,
    /// Unaccepted sockets per listener (smoltcp itself has no backlog).
    pub backlog: usize,
    pub seed: u64,
    /// Send the RFC 7323 timestamp option.
    pub timestamps: bool,
    pub congestion: CongestionControl,
    /// `None` = smoltcp's default delayed ACK (10 ms).
    pub ack_delay: Option<crate::time::Duration>,
    pub nagle: bool,
}

impl Default for SmolConfig {
    fn default() -> Self {
        SmolConfig {
            addr: Ipv4Addr::new(198, 18, 0, 2),
            prefix_len: 24,
            gateway: Ipv4Addr::new(198, 18, 0, 1),
            mtu: 1500,
            rx_buffer: 1 << 20,
            tx_buffer: 1 << 20,
            backlog: 128,
            seed: 0,
            timestamps: true,
            congestion: CongestionControl::Reno,
            ack_delay: None,
            nagle: true,
        }
    }
}

enum Entry {
    Listener {
        local: SocketAddrV4,
        pool: Vec<SocketHandle>,
    },
    Conn(Conn),
}

struct Conn {
    sh: SocketHandle,
    /// Reached a synchronized state once (tells a reset from a refused connection).
    synced: bool,
    shut_write: bool,
    shut_read: bool,
    /// shutdown(Write) before the handshake ended: FIN once synchronized.
    fin_pending: bool,
}

/// Counters of the reference stack's driver side.
#[derive(Clone, Debug, Default)]
pub struct SmolStats {
    pub packets_in: u64,
    pub packets_out: u64,
    /// Outgoing packets larger than the driver's buffer (dropped).
    pub drop_too_big: u64,
}

pub struct SmolStack {
    cfg: SmolConfig,
    iface: Interface,
    dev: QueueDevice,
    sockets: SocketSet<'static>,
    entries: BTreeMap<u32, Entry>,
    next_handle: u32,
    /// Closed or aborted by the application; removed once smoltcp reaches CLOSED.
    orphans: Vec<SocketHandle>,
    now: Instant,
    deadline: Option<Instant>,
    next_port: u16,
    stats: SmolStats,
}

impl SmolStack {
    pub fn new(cfg: SmolConfig) -> Self {
        let mut dev = QueueDevice {
            mtu: cfg.mtu,
            ..Default::default()
        };
        let mut icfg = Config::new(HardwareAddress::Ip);
        icfg.random_seed = cfg.seed;
        let mut iface = Interface::new(icfg, &mut dev, SmolInstant::ZERO);
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(cfg.addr.into(), cfg.prefix_len));
        });
        let _ = iface.routes_mut().add_default_ipv4_route(cfg.gateway);
        let next_port = 49152 + (cfg.seed % 16384) as u16;
        SmolStack {
            cfg,
            iface,
            dev,
            sockets: SocketSet::new(Vec::new()),
            entries: BTreeMap::new(),
            next_handle: 1,
            orphans: Vec::new(),
            now: Instant::ZERO,
            deadline: None,
            next_port,
            stats: SmolStats::default(),
        }
    }

    pub fn config(&self) -> &SmolConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &SmolStats {
        &self.stats
    }

    fn new_socket(&self) -> tcp::Socket<'static> {
        let mut s = tcp::Socket::new(
            tcp::SocketBuffer::new(vec![0; self.cfg.rx_buffer]),
            tcp::SocketBuffer::new(vec![0; self.cfg.tx_buffer]),
        );
        s.set_congestion_control(self.cfg.congestion);
        if self.cfg.timestamps {
            s.set_tsval_generator(Some(tsval));
        }
        if let Some(d) = self.cfg.ack_delay {
            let d = (d != crate::time::Duration::ZERO)
                .then(|| SmolDuration::from_micros(d.total_micros()));
            s.set_ack_delay(d);
        }
        s.set_nagle_enabled(self.cfg.nagle);
        s
    }

    fn sock(&self, sh: SocketHandle) -> &tcp::Socket<'static> {
        self.sockets.get::<tcp::Socket>(sh)
    }

    fn sock_mut(&mut self, sh: SocketHandle) -> &mut tcp::Socket<'static> {
        self.sockets.get_mut::<tcp::Socket>(sh)
    }

    /// Let smoltcp process input, timers and output at `now`, then keep the listeners armed,
    /// drop finished sockets and note the next deadline.
    fn drive(&mut self, now: Instant) {
        self.now = self.now.max(now);
        set_ts_clock(self.now.total_millis());
        let t = smol_now(self.now);
        self.iface.poll(t, &mut self.dev, &mut self.sockets);
        self.maintain();
        let poll_at = self.iface.poll_at(t, &self.sockets).map(our_instant);
        self.deadline = poll_at.map(|d| d.max(self.now));
    }

    fn maintain(&mut self) {
        // Which sockets reached a synchronized state; a shutdown(Write) during the handshake
        // sends its FIN now (smoltcp's close() in SYN-SENT would drop the connection).
        for e in self.entries.values_mut() {
            if let Entry::Conn(c) = e
                && synchronized(self.sockets.get::<tcp::Socket>(c.sh).state())
            {
                c.synced = true;
                if c.fin_pending {
                    c.fin_pending = false;
                    self.sockets.get_mut::<tcp::Socket>(c.sh).close();
                }
            }
        }
        // Released sockets that are done.
        let mut i = 0;
        while i < self.orphans.len() {
            let sh = self.orphans[i];
            if self.sock(sh).state() == State::Closed {
                self.sockets.remove(sh);
                self.orphans.swap_remove(i);
            } else {
                i += 1;
            }
        }
        // Listeners: drop dead pool sockets, re-arm LISTEN.
        let keys: Vec<u32> = self.entries.keys().copied().collect();
        for k in keys {
            let Some(Entry::Listener { local, pool }) = self.entries.get_mut(&k) else {
                continue;
            };
            let local = *local;
            let mut p = std::mem::take(pool);
            p.retain(|&sh| {
                let dead = self.sockets.get::<tcp::Socket>(sh).state() == State::Closed;
                if dead {
                    self.sockets.remove(sh);
                }
                !dead
            });
            let listening = p.iter().any(|&sh| self.sock(sh).state() == State::Listen);
            if !listening && p.len() < self.cfg.backlog.max(1) {
                let mut s = self.new_socket();
                if s.listen(listen_endpoint(local)).is_ok() {
                    p.push(self.sockets.add(s));
                }
            }
            if let Some(Entry::Listener { pool, .. }) = self.entries.get_mut(&k) {
                *pool = p;
            }
        }
    }

    /// A SYN (no ACK) for a 4-tuple that already has a socket must reach that socket, not a
    /// LISTEN socket in an earlier slot: swap the two sockets' slots.
    fn route_syn(&mut self, packet: &[u8]) {
        let Some((src, dst, sport, dport, flags)) = tcp_summary(packet) else {
            return;
        };
        if flags & 0x12 != 0x02 {
            return;
        }
        let mut owner = None;
        let mut first_listen = None;
        for (sh, s) in self.sockets.iter() {
            let smoltcp::socket::Socket::Tcp(s) = s else {
                continue;
            };
            if s.state() == State::Listen
                && s.listen_endpoint().port == dport
                && first_listen.is_none()
            {
                first_listen = Some(sh);
            }
            if s.state() != State::Closed
                && let (Some(l), Some(r)) = (s.local_endpoint(), s.remote_endpoint())
                && l == IpEndpoint::new(dst.into(), dport)
                && r == IpEndpoint::new(src.into(), sport)
            {
                owner = Some(sh);
            }
        }
        if let (Some(o), Some(l)) = (owner, first_listen)
            && l < o
        {
            self.swap_slots(o, l);
        }
    }

    fn swap_slots(&mut self, a: SocketHandle, b: SocketHandle) {
        let placeholder = tcp::Socket::new(
            tcp::SocketBuffer::new(Vec::new()),
            tcp::SocketBuffer::new(Vec::new()),
        );
        let sa = std::mem::replace(self.sock_mut(a), placeholder);
        let sb = std::mem::replace(self.sock_mut(b), sa);
        *self.sock_mut(a) = sb;
        let swap = |sh: &mut SocketHandle| {
            if *sh == a {
                *sh = b
            } else if *sh == b {
                *sh = a
            }
        };
        for e in self.entries.values_mut() {
            match e {
                Entry::Listener { pool, .. } => pool.iter_mut().for_each(swap),
                Entry::Conn(c) => swap(&mut c.sh),
            }
        }
        self.orphans.iter_mut().for_each(swap);
    }

    fn insert(&mut self, e: Entry) -> TcpHandle {
        let h = self.next_handle;
        self.next_handle = self.next_handle.wrapping_add(1).max(1);
        self.entries.insert(h, e);
        TcpHandle(h)
    }

    fn conn(&self, h: TcpHandle) -> Result<&Conn, SocketError> {
        match self.entries.get(&h.0) {
            Some(Entry::Conn(c)) => Ok(c),
            Some(Entry::Listener { .. }) => Err(SocketError::NotConnected),
            None => Err(SocketError::InvalidHandle),
        }
    }

    fn conn_mut(&mut self, h: TcpHandle) -> Result<&mut Conn, SocketError> {
        match self.entries.get_mut(&h.0) {
            Some(Entry::Conn(c)) => Ok(c),
            Some(Entry::Listener { .. }) => Err(SocketError::NotConnected),
            None => Err(SocketError::InvalidHandle),
        }
    }

    /// The error of a connection smoltcp closed without a FIN from the peer.
    fn dead_error(c: &Conn) -> SocketError {
        if c.synced {
            SocketError::ConnectionReset
        } else {
            SocketError::ConnectionRefused
        }
    }

    fn ephemeral_port(&mut self) -> u16 {
        let p = self.next_port;
        self.next_port = if p == u16::MAX { 49152 } else { p + 1 };
        p
    }

    /// Release a connection handle; its socket finishes in the background.
    fn release(&mut self, h: TcpHandle) -> Option<SocketHandle> {
        match self.entries.remove(&h.0)? {
            Entry::Conn(c) => {
                self.orphans.push(c.sh);
                Some(c.sh)
            }
            Entry::Listener { pool, .. } => {
                // Unaccepted connections go with their listener.
                for sh in pool {
                    self.sock_mut(sh).abort();
                    self.orphans.push(sh);
                }
                None
            }
        }
    }
}

impl Endpoint for SmolStack {
    fn handle_packet(&mut self, now: Instant, packet: &[u8]) {
        self.stats.packets_in += 1;
        self.route_syn(packet);
        self.dev.rx.push_back(packet.to_vec());
        self.drive(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.drive(now);
    }

    fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.dev.tx.is_empty() && self.deadline.is_some_and(|d| d <= now) {
            self.drive(now);
        }
        loop {
            let p = self.dev.tx.pop_front()?;
            match buf.get_mut(..p.len()) {
                Some(b) => {
                    b.copy_from_slice(&p);
                    self.stats.packets_out += 1;
                    return Some(p.len());
                }
                None => self.stats.drop_too_big += 1,
            }
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        if self.dev.tx.is_empty() {
            self.deadline
        } else {
            Some(self.now)
        }
    }
}

impl TcpEndpoint for SmolStack {
    fn name(&self) -> &'static str {
        "smoltcp"
    }

    fn tcp_listen(&mut self, local: SocketAddrV4) -> Result<TcpHandle, SocketError> {
        if local.port() == 0 {
            return Err(SocketError::InvalidInput);
        }
        let taken = self
            .entries
            .values()
            .any(|e| matches!(e, Entry::Listener { local: l, .. } if *l == local));
        if taken {
            return Err(SocketError::AddrInUse);
        }
        let h = self.insert(Entry::Listener {
            local,
            pool: Vec::new(),
        });
        self.maintain();
        Ok(h)
    }

    fn tcp_accept(&mut self, listener: TcpHandle) -> Result<TcpHandle, SocketError> {
        let Some(Entry::Listener { pool, .. }) = self.entries.get_mut(&listener.0) else {
            return Err(match self.entries.get(&listener.0) {
                Some(_) => SocketError::InvalidInput,
                None => SocketError::InvalidHandle,
            });
        };
        let sockets = &self.sockets;
        let i = pool
            .iter()
            .position(|&sh| synchronized(sockets.get::<tcp::Socket>(sh).state()))
            .ok_or(SocketError::WouldBlock)?;
        let sh = pool.remove(i);
        let h = self.insert(Entry::Conn(Conn {
            sh,
            synced: true,
            shut_write: false,
            shut_read: false,
            fin_pending: false,
        }));
        self.maintain();
        Ok(h)
    }

    fn tcp_connect(
        &mut self,
        now: Instant,
        remote: SocketAddrV4,
    ) -> Result<TcpHandle, SocketError> {
        if remote.port() == 0 || remote.ip().is_unspecified() {
            return Err(SocketError::AddrNotAvailable);
        }
        let port = self.ephemeral_port();
        let mut s = self.new_socket();
        let to = IpEndpoint::new((*remote.ip()).into(), remote.port());
        s.connect(self.iface.context(), to, port)
            .map_err(|_| SocketError::AddrNotAvailable)?;
        let sh = self.sockets.add(s);
        let h = self.insert(Entry::Conn(Conn {
            sh,
            synced: false,
            shut_write: false,
            shut_read: false,
            fin_pending: false,
        }));
        self.drive(now);
        Ok(h)
    }

    fn tcp_send(&mut self, now: Instant, h: TcpHandle, data: &[u8]) -> Result<usize, SocketError> {
        let c = self.conn(h)?;
        let (sh, shut, err) = (c.sh, c.shut_write, Self::dead_error(c));
        if shut {
            return Err(SocketError::BrokenPipe);
        }
        let s = self.sock_mut(sh);
        let r = match s.state() {
            State::SynSent | State::SynReceived => Err(SocketError::WouldBlock),
            State::Closed => Err(err),
            State::Established | State::CloseWait => match s.send_slice(data) {
                Ok(0) if !data.is_empty() => Err(SocketError::WouldBlock),
                Ok(n) => Ok(n),
                Err(_) => Err(SocketError::NotConnected),
            },
            _ => Err(SocketError::BrokenPipe),
        };
        self.drive(now);
        r
    }

    fn tcp_recv(
        &mut self,
        now: Instant,
        h: TcpHandle,
        buf: &mut [u8],
    ) -> Result<usize, SocketError> {
        let c = self.conn(h)?;
        let (sh, shut, err) = (c.sh, c.shut_read, Self::dead_error(c));
        let s = self.sock_mut(sh);
        if shut {
            // shutdown(Read): discard what arrives, report end of stream.
            while matches!(s.recv(|b| (b.len(), ())), Ok(())) && s.can_recv() {}
            self.drive(now);
            return Ok(0);
        }
        let r = match s.state() {
            State::SynSent | State::SynReceived => Err(SocketError::WouldBlock),
            _ => match s.recv_slice(buf) {
                Ok(0) if !buf.is_empty() => Err(SocketError::WouldBlock),
                Ok(n) => Ok(n),
                Err(RecvError::Finished) => Ok(0),
                Err(RecvError::InvalidState) => Err(err),
            },
        };
        self.drive(now);
        r
    }

    fn tcp_shutdown(
        &mut self,
        now: Instant,
        h: TcpHandle,
        how: Shutdown,
    ) -> Result<(), SocketError> {
        let c = self.conn_mut(h)?;
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            c.shut_read = true;
        }
        let write = matches!(how, Shutdown::Write | Shutdown::Both);
        if write {
            c.shut_write = true;
        }
        let sh = c.sh;
        if write {
            if matches!(self.sock(sh).state(), State::SynSent | State::SynReceived) {
                if let Ok(c) = self.conn_mut(h) {
                    c.fin_pending = true;
                }
            } else {
                // smoltcp's close() is a half-close: it sends FIN and keeps receiving.
                self.sock_mut(sh).close();
            }
        }
        self.drive(now);
        Ok(())
    }

    fn tcp_close(&mut self, now: Instant, h: TcpHandle) {
        if let Some(sh) = self.release(h) {
            self.sock_mut(sh).close();
        }
        self.drive(now);
    }

    fn tcp_abort(&mut self, now: Instant, h: TcpHandle) {
        if let Some(sh) = self.release(h) {
            self.sock_mut(sh).abort();
        }
        self.drive(now);
    }

    fn tcp_state(&self, h: TcpHandle) -> Option<&'static str> {
        match self.entries.get(&h.0)? {
            Entry::Conn(c) => Some(state_name(self.sock(c.sh).state())),
            Entry::Listener { .. } => Some("LISTEN"),
        }
    }

    fn tcp_states(&self) -> Vec<&'static str> {
        self.sockets
            .iter()
            .filter_map(|(_, s)| match s {
                smoltcp::socket::Socket::Tcp(s) if s.state() != State::Listen => {
                    Some(state_name(s.state()))
                }
                _ => None,
            })
            .collect()
    }
}
