//! The bodies of `member.forget` and `member.forgotten`: a member's `/forget-me` asks each
//! mutual peer to forget what concerns the member there, and the peer answers what it did.

use serde::{Deserialize, Serialize};

use crate::Snowflake;
use crate::envelope::Nonce;

/// `member.forget`: the member left the sender with `/forget-me`. The receiver deletes the
/// copies of the member's posts that it relayed into the sender's channels, forgets the
/// member's times that the sender announced, and answers with [`MemberForgotten`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberForget {
    /// The member's Discord user id.
    pub member: Snowflake,
    /// A random id that the answer repeats.
    pub request: Nonce,
}

/// `member.forgotten`: the answer to a [`MemberForget`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberForgotten {
    /// The member's Discord user id, as the request named it.
    pub member: Snowflake,
    /// The request's id.
    pub request: Nonce,
    /// How many copies of the member's posts the answering server is deleting.
    pub copies: u32,
}

impl MemberForget {
    /// The answer saying that `copies` copies are being deleted.
    pub fn answer(&self, copies: u32) -> MemberForgotten {
        MemberForgotten {
            member: self.member,
            request: self.request,
            copies,
        }
    }
}
