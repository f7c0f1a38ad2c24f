//! Serving a /dev/fuse connection that someone else mounted, first or again.
//!
//! fuser's `Session::from_fd` insists on performing the INIT handshake in
//! its constructor, but a connection taken over after a crash gets no second
//! INIT from the kernel. So the session is built on one end of a
//! SOCK_SEQPACKET socketpair: we write the INIT request into the other end
//! (read from the kernel on a first start, replayed from a saved copy on a
//! takeover), collect fuser's reply (forwarded to the kernel on a first start,
//! discarded on a takeover), and then put the real device in place of the
//! socket with `dup3`, before the session reads anything else. Finally
//! FUSE_NOTIFY_RESEND asks the kernel to send again the requests the dead
//! server had read but not answered.

use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// fuser's request buffer size; reading INIT with a smaller buffer fails.
const READ_BUF: usize = 16 * 1024 * 1024 + 4096;
/// `fuse_notify_code::FUSE_NOTIFY_RESEND`.
const NOTIFY_RESEND: i32 = 7;
/// FUSE_HAS_RESEND is bit 39 of the 64-bit init flags (bit 7 of flags2).
const HAS_RESEND_FLAGS2: u32 = 1 << 7;
/// FUSE_INIT_EXT: flags2 is valid.
const INIT_EXT: u32 = 1 << 30;

/// Read the kernel's INIT request from a freshly mounted connection.
pub fn read_init(dev: &OwnedFd) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; READ_BUF];
    loop {
        match nix::unistd::read(dev, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                check_init(&buf)?;
                return Ok(buf);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Sanity-check a buffer as a FUSE_INIT request (opcode 26).
pub fn check_init(init: &[u8]) -> io::Result<()> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    if init.len() < 40 + 8 {
        return Err(bad("saved INIT request is too short"));
    }
    let len = u32::from_ne_bytes(init[0..4].try_into().expect("4 bytes")) as usize;
    let opcode = u32::from_ne_bytes(init[4..8].try_into().expect("4 bytes"));
    if len != init.len() || opcode != 26 {
        return Err(bad("not a FUSE INIT request"));
    }
    Ok(())
}

/// Does the kernel that sent this INIT support FUSE_NOTIFY_RESEND?
pub fn kernel_has_resend(init: &[u8]) -> bool {
    // fuse_in_header is 40 bytes; fuse_init_in: major, minor, max_readahead,
    // flags, flags2, ...
    let word = |i: usize| {
        init.get(40 + 4 * i..44 + 4 * i)
            .map(|b| u32::from_ne_bytes(b.try_into().expect("4 bytes")))
    };
    matches!((word(3), word(4)), (Some(flags), Some(flags2))
        if flags & INIT_EXT != 0 && flags2 & HAS_RESEND_FLAGS2 != 0)
}

/// Our end of the socketpair whose other end goes to `Session::from_fd`.
pub struct InitShim {
    ours: OwnedFd,
    session_raw: i32,
}

impl InitShim {
    /// Returns the shim and the end to give to `Session::from_fd`, with the
    /// INIT request already waiting in it.
    pub fn new(init: &[u8]) -> io::Result<(InitShim, OwnedFd)> {
        let (ours, session_end) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        nix::unistd::write(&ours, init)?;
        let session_raw = session_end.as_raw_fd();
        Ok((InitShim { ours, session_raw }, session_end))
    }

    /// After `from_fd` returned: collect fuser's INIT reply, then put the
    /// device under the session's fd number. Returns the reply bytes.
    pub fn finish(self, dev: &OwnedFd) -> io::Result<Vec<u8>> {
        let mut reply = vec![0u8; 4096];
        let n = nix::unistd::read(&self.ours, &mut reply)?;
        reply.truncate(n);
        // SAFETY: `session_raw` is an open descriptor owned by the fuser
        // session, which does not touch it between its constructor and
        // `run()`; dup3 atomically makes that number refer to the device
        // (closing the socket end), so the session's ownership stays valid.
        let r = unsafe { libc::dup3(dev.as_raw_fd(), self.session_raw, libc::O_CLOEXEC) };
        if r < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(reply)
    }
}

/// Ask the kernel to resend requests that were read but never answered.
pub fn notify_resend(dev: &OwnedFd) -> io::Result<()> {
    let mut msg = [0u8; 16];
    msg[0..4].copy_from_slice(&16u32.to_ne_bytes());
    msg[4..8].copy_from_slice(&NOTIFY_RESEND.to_ne_bytes());
    nix::unistd::write(dev, &msg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_init(flags: u32, flags2: u32) -> Vec<u8> {
        let mut v = vec![0u8; 104];
        v[0..4].copy_from_slice(&104u32.to_ne_bytes());
        v[4..8].copy_from_slice(&26u32.to_ne_bytes());
        v[40..44].copy_from_slice(&7u32.to_ne_bytes());
        v[44..48].copy_from_slice(&41u32.to_ne_bytes());
        v[52..56].copy_from_slice(&flags.to_ne_bytes());
        v[56..60].copy_from_slice(&flags2.to_ne_bytes());
        v
    }

    #[test]
    fn init_checks() {
        let i = fake_init(INIT_EXT, HAS_RESEND_FLAGS2);
        assert!(check_init(&i).is_ok());
        assert!(kernel_has_resend(&i));
        assert!(!kernel_has_resend(&fake_init(0, HAS_RESEND_FLAGS2)));
        assert!(check_init(&i[..50]).is_err());
        let mut wrong = i.clone();
        wrong[4] = 3;
        assert!(check_init(&wrong).is_err());
    }

    #[test]
    fn shim_hands_the_request_over_and_swaps_the_fd() {
        let init = fake_init(0, 0);
        let (shim, session_end) = InitShim::new(&init).unwrap();
        // Play fuser: read INIT, reply.
        let mut got = vec![0u8; 200];
        let n = nix::unistd::read(&session_end, &mut got).unwrap();
        assert_eq!(&got[..n], &init[..]);
        nix::unistd::write(&session_end, b"reply").unwrap();
        let (dev, peer) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        assert_eq!(shim.finish(&dev).unwrap(), b"reply");
        // The session's fd number now talks to the device's peer.
        nix::unistd::write(&peer, b"x").unwrap();
        let mut b = [0u8; 4];
        assert_eq!(nix::unistd::read(&session_end, &mut b).unwrap(), 1);
    }
}
