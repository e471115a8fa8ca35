//! The 4-tuple table: (local, remote) → connection handle. A segment belongs to the connection
//! its socket pair names (RFC 9293 §3.10.7); `TcpLayer::handle_segment` looks it up per segment.
//! Keys come from the wire, so the map keeps std's keyed SipHash (no hash flooding); a bulk
//! flow asks for the same entry segment after segment, so the last hit is kept in front of it.

use std::cell::Cell;
use std::collections::HashMap;
use std::net::SocketAddrV4;

/// (local, remote).
pub(crate) type Tuple = (SocketAddrV4, SocketAddrV4);

#[derive(Default)]
pub(crate) struct TupleTable {
    map: HashMap<Tuple, u32>,
    /// The last entry `get` found (always an entry of `map`).
    last: Cell<Option<(Tuple, u32)>>,
}

impl TupleTable {
    pub fn get(&self, key: &Tuple) -> Option<u32> {
        if let Some((k, h)) = self.last.get()
            && k == *key
        {
            return Some(h);
        }
        let h = *self.map.get(key)?;
        self.last.set(Some((*key, h)));
        Some(h)
    }

    #[allow(dead_code)] // connect now asks `get` (crr: TIME-WAIT recycling needs the handle)
    pub fn contains_key(&self, key: &Tuple) -> bool {
        self.get(key).is_some()
    }

    pub fn insert(&mut self, key: Tuple, h: u32) {
        self.forget(&key);
        self.map.insert(key, h);
    }

    pub fn remove(&mut self, key: &Tuple) {
        self.forget(key);
        self.map.remove(key);
    }

    fn forget(&mut self, key: &Tuple) {
        if self.last.get().is_some_and(|(k, _)| k == *key) {
            self.last.set(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn t(port: u16) -> Tuple {
        let a = Ipv4Addr::new(198, 18, 0, 2);
        let b = Ipv4Addr::new(198, 18, 0, 1);
        (SocketAddrV4::new(a, 9), SocketAddrV4::new(b, port))
    }

    #[test]
    fn the_cached_entry_follows_insert_and_remove() {
        let mut tt = TupleTable::default();
        tt.insert(t(1), 7);
        tt.insert(t(2), 8);
        assert_eq!(tt.get(&t(1)), Some(7)); // now cached
        assert_eq!(tt.get(&t(1)), Some(7));
        tt.remove(&t(1));
        assert_eq!(tt.get(&t(1)), None);
        assert!(!tt.contains_key(&t(1)));
        assert_eq!(tt.get(&t(2)), Some(8));
        tt.insert(t(2), 9); // replaced while cached
        assert_eq!(tt.get(&t(2)), Some(9));
        tt.insert(t(1), 10);
        assert_eq!(tt.get(&t(1)), Some(10));
        assert_eq!(tt.get(&t(2)), Some(9));
        assert_eq!(tt.get(&t(3)), None);
    }
}
