//! IPv4 CIDR arithmetic shared by the network and compute families: parsing, containment, overlap
//! and the usable host range used by [`crate::core::state::Store::allocate_ip`].

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An IPv4 network in CIDR notation. The address part is kept as written (IEC accepts
/// non-canonical forms such as `192.168.2.0/21`); [`Ipv4Cidr::network`] gives the canonical base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ipv4Cidr {
    /// The address as written.
    pub addr: Ipv4Addr,
    /// Prefix length, 0..=32.
    pub prefix: u8,
}

/// A string that is not `a.b.c.d/n`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid CIDR {0:?}")]
pub struct CidrParseError(pub String);

impl FromStr for Ipv4Cidr {
    type Err = CidrParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || CidrParseError(s.to_string());
        let (a, p) = s.split_once('/').ok_or_else(err)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| err())?;
        if p.is_empty() || p.len() > 2 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let prefix: u8 = p.parse().map_err(|_| err())?;
        if prefix > 32 {
            return Err(err());
        }
        Ok(Self { addr, prefix })
    }
}

impl fmt::Display for Ipv4Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl Ipv4Cidr {
    /// The netmask as a u32.
    pub fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.prefix))
        }
    }

    /// The canonical network address.
    pub fn network(&self) -> u32 {
        u32::from(self.addr) & self.mask()
    }

    /// The broadcast (last) address.
    pub fn broadcast(&self) -> u32 {
        self.network() | !self.mask()
    }

    /// True when the address part has no host bits set.
    pub fn is_canonical(&self) -> bool {
        u32::from(self.addr) == self.network()
    }

    /// True when `ip` lies inside this network.
    pub fn contains_ip(&self, ip: Ipv4Addr) -> bool {
        (u32::from(ip) & self.mask()) == self.network()
    }

    /// True when `other` lies entirely inside this network.
    pub fn contains(&self, other: &Ipv4Cidr) -> bool {
        other.prefix >= self.prefix && self.contains_ip(Ipv4Addr::from(other.network()))
    }

    /// True when the two networks share any address.
    pub fn overlaps(&self, other: &Ipv4Cidr) -> bool {
        self.contains(other) || other.contains(self)
    }

    /// First and last address handed out to hosts: network+2 (network+1 is the gateway) up to
    /// broadcast-1. For /31 and /32 the range is empty (`first > last`).
    pub fn usable_range(&self) -> (u32, u32) {
        let net = self.network();
        let bc = self.broadcast();
        if self.prefix >= 31 {
            (1, 0)
        } else {
            (net + 2, bc - 1)
        }
    }

    /// The conventional gateway address (network + 1).
    pub fn gateway(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network().wrapping_add(1))
    }

    /// The `index`-th sub-network of length `prefix` inside this one, if it fits.
    pub fn subnet(&self, prefix: u8, index: u32) -> Option<Ipv4Cidr> {
        if prefix < self.prefix || prefix > 32 {
            return None;
        }
        let bits = u32::from(prefix - self.prefix);
        if bits < 32 && index >= (1u32 << bits) {
            return None;
        }
        let size = if prefix == 0 {
            0
        } else {
            1u32.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
        };
        let base = self.network().checked_add(index.checked_mul(size)?)?;
        Some(Ipv4Cidr {
            addr: Ipv4Addr::from(base),
            prefix,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_relations() {
        let vpc: Ipv4Cidr = "192.168.2.0/21".parse().unwrap();
        assert!(!vpc.is_canonical());
        assert_eq!(Ipv4Addr::from(vpc.network()).to_string(), "192.168.0.0");
        let sub: Ipv4Cidr = "192.168.1.0/24".parse().unwrap();
        assert!(vpc.contains(&sub));
        assert!(vpc.overlaps(&sub));
        let other: Ipv4Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(!vpc.overlaps(&other));
        for bad in [
            "10.0.0.0",
            "10.0.0.0/33",
            "10.0.0/8",
            "a/8",
            "10.0.0.0/-1",
            "10.0.0.0/",
        ] {
            assert!(bad.parse::<Ipv4Cidr>().is_err(), "{bad}");
        }
        let s = other.subnet(24, 3).unwrap();
        assert_eq!(s.to_string(), "10.0.3.0/24");
        assert!(other.subnet(7, 0).is_none());
        assert!("10.0.0.0/24".parse::<Ipv4Cidr>().unwrap().subnet(25, 2).is_none());
    }
}
