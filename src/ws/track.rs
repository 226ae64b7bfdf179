//! Per-room bookkeeping that keeps one socket's timeline stream gap-free and duplicate-free.
//!
//! Live timeline events (new messages and changes to them) normally arrive in `seq` order, one
//! after another. An event at or below what the socket already has is a duplicate (it came in
//! a replay or a gap fill); one beyond the next expected `seq` means something in between has
//! not come live (for instance it was published out of order by another node), so the writer
//! first pulls the gap from the store. Changes to messages at or below the member's `floor`
//! (history from before they joined, in a `joined` room) take their `seq` but are not shown.

use crate::domain::Seq;

/// What to do with a live message.
#[derive(Debug, PartialEq, Eq)]
pub enum Admit {
    /// Already sent: drop it.
    Skip,
    /// Send it.
    Deliver,
    /// Send the stored messages `after+1 ..= upto` first, then it.
    FillGap { after: Seq, upto: Seq },
}

/// One room on one socket: everything after `baseline` reached the socket live, up to `sent`.
#[derive(Debug, Clone, Copy)]
pub struct Track {
    baseline: Seq,
    sent: Seq,
    /// The newest message `seq` the member may not read.
    floor: Seq,
}

impl Track {
    /// A room whose newest event was `last_seq` when live delivery started.
    pub fn starting_at(last_seq: Seq) -> Self {
        Self {
            baseline: last_seq,
            sent: last_seq,
            floor: 0,
        }
    }

    /// The member reads messages above `floor` only.
    pub fn with_floor(mut self, floor: Seq) -> Self {
        self.floor = floor;
        self
    }

    pub fn set_floor(&mut self, floor: Seq) {
        self.floor = floor;
    }

    /// Whether a change to the message `message_seq` is hidden from this member.
    pub fn hides(&self, message_seq: Seq) -> bool {
        message_seq <= self.floor
    }

    pub fn sent(&self) -> Seq {
        self.sent
    }

    /// A live message with this `seq` arrives.
    pub fn admit(&mut self, seq: Seq) -> Admit {
        if seq <= self.sent {
            return Admit::Skip;
        }
        let after = self.sent;
        self.sent = seq;
        if seq == after + 1 {
            Admit::Deliver
        } else {
            Admit::FillGap {
                after,
                upto: seq - 1,
            }
        }
    }

    /// Whether a replayed message already reached the socket live.
    pub fn sent_live(&self, seq: Seq) -> bool {
        seq > self.baseline && seq <= self.sent
    }

    /// A replay sent messages up to `newest`.
    pub fn replayed(&mut self, newest: Seq) {
        self.sent = self.sent.max(newest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_messages_are_delivered_once() {
        let mut t = Track::starting_at(10);
        assert_eq!(t.admit(11), Admit::Deliver);
        assert_eq!(t.admit(12), Admit::Deliver);
        assert_eq!(t.admit(12), Admit::Skip);
        assert_eq!(t.admit(5), Admit::Skip);
        assert_eq!(t.sent(), 12);
    }

    #[test]
    fn a_gap_is_filled_before_the_message() {
        let mut t = Track::starting_at(3);
        assert_eq!(t.admit(7), Admit::FillGap { after: 3, upto: 6 });
        assert_eq!(t.admit(5), Admit::Skip, "a late arrival from the gap");
        assert_eq!(t.admit(8), Admit::Deliver);
    }

    #[test]
    fn replay_skips_what_came_live_and_live_skips_what_was_replayed() {
        let mut t = Track::starting_at(100);
        t.admit(101);
        t.admit(102);
        // The client asks for everything after 90.
        let replayed: Vec<Seq> = (91..=104).filter(|s| !t.sent_live(*s)).collect();
        assert_eq!(
            replayed,
            [91, 92, 93, 94, 95, 96, 97, 98, 99, 100, 103, 104]
        );
        t.replayed(104);
        assert_eq!(t.admit(103), Admit::Skip);
        assert_eq!(t.admit(104), Admit::Skip);
        assert_eq!(t.admit(105), Admit::Deliver);
    }

    #[test]
    fn changes_below_the_floor_are_hidden() {
        let t = Track::starting_at(10).with_floor(5);
        assert!(t.hides(5) && t.hides(1));
        assert!(!t.hides(6));
        assert!(!Track::starting_at(10).hides(1));
    }

    #[test]
    fn a_client_ahead_of_this_socket_gets_no_repeats() {
        // The socket started at 100; the client saw up to 105 on an earlier socket.
        let mut t = Track::starting_at(100);
        t.replayed(105);
        assert_eq!(t.admit(104), Admit::Skip);
        assert_eq!(t.admit(106), Admit::Deliver);
    }
}
