//! Parsing command-line quantities with units: percentages, durations, rates, sizes, CIDRs.
//! Every parser returns a message clap prints before exiting with status 2.

use std::net::Ipv4Addr;
use std::time::Duration;

/// Split "12.5ms" into (12.5, "ms").
fn number_and_unit(s: &str) -> Result<(f64, String), String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return Err(format!("{s:?} does not start with a number"));
    }
    let v: f64 = num
        .parse()
        .map_err(|_| format!("{num:?} is not a number"))?;
    if !v.is_finite() {
        return Err(format!("{num:?} is not a finite number"));
    }
    Ok((v, unit.trim().to_ascii_lowercase()))
}

/// A probability: "2%", "0.5%", or a fraction "0.02". Result in [0, 1].
pub fn percent(s: &str) -> Result<f64, String> {
    let (v, unit) = number_and_unit(s)?;
    let p = match unit.as_str() {
        "%" => v / 100.0,
        "" if v <= 1.0 => v,
        "" => {
            return Err(format!(
                "{s:?}: a bare number must be a fraction in [0, 1]; write \"{v}%\" for percent"
            ));
        }
        _ => return Err(format!("{s:?}: unknown unit {unit:?} (use %, e.g. 2%)")),
    };
    if !(0.0..=1.0).contains(&p) {
        return Err(format!("{s:?} is not between 0% and 100%"));
    }
    Ok(p)
}

/// A duration: "50ms", "1.5s", "200us", "2m" (minutes); "0" alone is allowed.
pub fn duration(s: &str) -> Result<Duration, String> {
    let (v, unit) = number_and_unit(s)?;
    let secs = match unit.as_str() {
        "us" | "µs" => v / 1e6,
        "ms" => v / 1e3,
        "s" | "sec" => v,
        "m" | "min" => v * 60.0,
        "" if v == 0.0 => 0.0,
        "" => return Err(format!("{s:?}: missing unit (us, ms, s or min, e.g. 50ms)")),
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?} (use us, ms, s or min)"
            ));
        }
    };
    if secs > 1e9 {
        return Err(format!("{s:?} is too long"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A bit rate: "10mbit", "1.5gbit", "500kbit", "64000bit" (decimal prefixes, as tc(8)).
pub fn rate(s: &str) -> Result<u64, String> {
    let (v, unit) = number_and_unit(s)?;
    let mult = match unit.as_str() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "bps" | "kbps" | "mbps" | "gbps" => {
            return Err(format!(
                "{s:?}: ambiguous unit {unit:?} (tc reads it as bytes/s); write bit, kbit, mbit or gbit"
            ));
        }
        "" => {
            return Err(format!(
                "{s:?}: missing unit (bit, kbit, mbit or gbit, e.g. 10mbit)"
            ));
        }
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?} (use bit, kbit, mbit or gbit)"
            ));
        }
    };
    let bps = v * mult;
    if !(1.0..=1e12).contains(&bps) {
        return Err(format!("{s:?}: rate must be between 1bit and 1000gbit"));
    }
    Ok(bps as u64)
}

/// A size in bytes: "64kb", "1.5mb", "1500b", "1500" (binary prefixes: 1kb = 1024 bytes).
pub fn size(s: &str) -> Result<u64, String> {
    let (v, unit) = number_and_unit(s)?;
    let mult = match unit.as_str() {
        "" | "b" => 1.0,
        "k" | "kb" | "kib" => 1024.0,
        "m" | "mb" | "mib" => 1024.0 * 1024.0,
        "g" | "gb" | "gib" => 1024.0 * 1024.0 * 1024.0,
        _ => {
            return Err(format!(
                "{s:?}: unknown unit {unit:?} (use b, kb, mb or gb)"
            ));
        }
    };
    let bytes = v * mult;
    if bytes > 1e15 {
        return Err(format!("{s:?} is too large"));
    }
    Ok(bytes as u64)
}

/// "198.18.0.2/24" → (address, prefix). The prefix must leave room for two hosts (≤ 30).
pub fn cidr(s: &str) -> Result<(Ipv4Addr, u8), String> {
    let (a, p) = s
        .split_once('/')
        .ok_or_else(|| format!("{s:?}: expected ADDRESS/PREFIX, e.g. 198.18.0.2/24"))?;
    let addr: Ipv4Addr = a
        .parse()
        .map_err(|_| format!("{a:?} is not an IPv4 address"))?;
    let prefix: u8 = p
        .parse()
        .map_err(|_| format!("{p:?} is not a prefix length"))?;
    if !(1..=30).contains(&prefix) {
        return Err(format!("prefix /{prefix} must be between /1 and /30"));
    }
    Ok((addr, prefix))
}

/// A Linux interface name: 1 to 15 bytes, no '/', ':', whitespace (a `%d` template is allowed).
pub fn ifname(s: &str) -> Result<String, String> {
    if s.is_empty() || s.len() > 15 {
        return Err(format!("{s:?}: an interface name has 1 to 15 characters"));
    }
    if s == "." || s == ".." || s.chars().any(|c| c == '/' || c == ':' || c.is_whitespace()) {
        return Err(format!("{s:?}: no '/', ':' or spaces in an interface name"));
    }
    Ok(s.to_string())
}

/// True if `a` and `b` are in the same /`prefix` subnet.
pub fn same_subnet(a: Ipv4Addr, b: Ipv4Addr, prefix: u8) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    u32::from(a) & mask == u32::from(b) & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages() {
        assert_eq!(percent("2%"), Ok(0.02));
        assert_eq!(percent("0.1%"), Ok(0.001));
        assert_eq!(percent("0.25"), Ok(0.25));
        assert!(percent("2").is_err());
        assert!(percent("101%").is_err());
        assert!(percent("-1%").is_err());
        assert!(percent("2 pct").is_err());
        assert!(percent("%").is_err());
    }

    #[test]
    fn durations() {
        assert_eq!(duration("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(duration("200us"), Ok(Duration::from_micros(200)));
        assert_eq!(duration("2min"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("0"), Ok(Duration::ZERO));
        assert!(duration("50").is_err());
        assert!(duration("5h").is_err());
        assert!(duration("ms").is_err());
    }

    #[test]
    fn rates_and_sizes() {
        assert_eq!(rate("10mbit"), Ok(10_000_000));
        assert_eq!(rate("1.5Gbit"), Ok(1_500_000_000));
        assert_eq!(rate("500kbit"), Ok(500_000));
        assert!(rate("10mbps").unwrap_err().contains("ambiguous"));
        assert!(rate("10").is_err());
        assert!(rate("0bit").is_err());
        assert_eq!(size("64kb"), Ok(65536));
        assert_eq!(size("1500"), Ok(1500));
        assert_eq!(size("1mb"), Ok(1 << 20));
        assert!(size("3 parsecs").is_err());
    }

    #[test]
    fn interface_names() {
        assert_eq!(ifname("tunstack0"), Ok("tunstack0".to_string()));
        assert!(ifname("").is_err());
        assert!(ifname("a-very-long-name-x").is_err());
        assert!(ifname("bad/name").is_err());
        assert!(ifname("bad name").is_err());
    }

    #[test]
    fn cidrs_and_subnets() {
        assert_eq!(
            cidr("198.18.0.2/24"),
            Ok((Ipv4Addr::new(198, 18, 0, 2), 24))
        );
        assert!(cidr("198.18.0.2").is_err());
        assert!(cidr("198.18.0.300/24").is_err());
        assert!(cidr("198.18.0.2/31").is_err());
        let a = Ipv4Addr::new(198, 18, 0, 2);
        assert!(same_subnet(a, Ipv4Addr::new(198, 18, 0, 1), 24));
        assert!(!same_subnet(a, Ipv4Addr::new(198, 18, 1, 1), 24));
        assert!(same_subnet(a, Ipv4Addr::new(198, 19, 1, 1), 15));
    }
}
