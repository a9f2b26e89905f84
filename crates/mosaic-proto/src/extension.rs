//! Extension message types: type bytes an application allows once an extension
//! is negotiated (for example the sync extension's 0x10-0x12 and 0x91, 0x93).

use std::fmt;

use bytes::{BufMut, Bytes, BytesMut};

use crate::{BuildError, MAX_MESSAGE_LEN, MessageType, Role, wire};

/// The set of extension type bytes a connection accepts on top of the core types.
///
/// Each type keeps the role its top bit gives it: declaring `0x91` lets a client
/// decode server messages of type `0x91`, and nothing else.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ExtensionTypes([u128; 2]);

impl ExtensionTypes {
    /// No extension types: only the core messages decode.
    pub const fn none() -> ExtensionTypes {
        ExtensionTypes([0; 2])
    }

    /// The message types of the sync extension (spec/sync_protocol_extension.md):
    /// client 0x10, 0x11, 0x12 and server 0x91, 0x93.
    pub const fn sync() -> ExtensionTypes {
        let mut set = ExtensionTypes::none();
        set.0[0] |= 1 << 0x10 | 1 << 0x11 | 1 << 0x12;
        set.0[1] |= 1 << (0x91 - 0x80) | 1 << (0x93 - 0x80);
        set
    }

    /// This set with `ty` added.
    ///
    /// # Errors
    /// [`BuildError::ExtensionType`] when `ty` is a core message type.
    pub fn with(mut self, ty: u8) -> Result<ExtensionTypes, BuildError> {
        let message_type = MessageType(ty);
        if message_type.is_core() {
            return Err(BuildError::ExtensionType {
                ty,
                role: message_type.role(),
                why: "it is a core message type",
            });
        }
        self.0[usize::from(ty >> 7)] |= 1 << (ty & 0x7f);
        Ok(self)
    }

    /// This set joined with `other`.
    pub const fn union(self, other: ExtensionTypes) -> ExtensionTypes {
        ExtensionTypes([self.0[0] | other.0[0], self.0[1] | other.0[1]])
    }

    /// Whether `ty` is in the set.
    pub const fn contains(&self, ty: u8) -> bool {
        self.0[(ty >> 7) as usize] & (1 << (ty & 0x7f)) != 0
    }

    /// The type bytes in the set, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u8> + '_ {
        (0u8..=255).filter(|&ty| self.contains(ty))
    }
}

impl fmt::Debug for ExtensionTypes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set()
            .entries(self.iter().map(|ty| format!("0x{ty:02x}")))
            .finish()
    }
}

/// Checks that `ty` can be an extension message of `role`.
fn check_type(ty: u8, role: Role) -> Result<(), BuildError> {
    let message_type = MessageType(ty);
    let why = if message_type.is_core() {
        "it is a core message type"
    } else if message_type.role() != role {
        match role {
            Role::Client => "client message types are below 0x80",
            Role::Server => "server message types are 0x80 and above",
        }
    } else {
        return Ok(());
    };
    Err(BuildError::ExtensionType { ty, role, why })
}

macro_rules! extension_message {
    ($(#[$meta:meta])* $name:ident, $role:expr) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash)]
        pub struct $name {
            ty: u8,
            body: Bytes,
        }

        impl $name {
            /// The largest body: the 24-bit length minus the 4-byte prefix.
            pub const MAX_BODY_LEN: usize = MAX_MESSAGE_LEN - wire::PREFIX_LEN;

            /// An extension message of type `ty` whose bytes after the 4-byte
            /// type-and-length prefix are `body`.
            ///
            /// # Errors
            /// [`BuildError::ExtensionType`] when `ty` is a core type or belongs to the
            /// other role, [`BuildError::ExtensionBodyTooLong`] past
            #[doc = concat!("[`", stringify!($name), "::MAX_BODY_LEN`].")]
            pub fn new(ty: u8, body: Bytes) -> Result<Self, BuildError> {
                check_type(ty, $role)?;
                if body.len() > Self::MAX_BODY_LEN {
                    return Err(BuildError::ExtensionBodyTooLong { len: body.len() });
                }
                Ok(Self { ty, body })
            }

            /// The type byte.
            pub const fn message_type(&self) -> MessageType {
                MessageType(self.ty)
            }

            /// The bytes after the 4-byte type-and-length prefix, a slice of the input.
            pub fn body(&self) -> &Bytes {
                &self.body
            }

            pub(crate) fn encoded_len(&self) -> usize {
                wire::PREFIX_LEN + self.body.len()
            }

            pub(crate) fn encode(&self, dst: &mut BytesMut) {
                dst.put_u8(self.ty);
                dst.put_slice(&wire::len24_bytes(self.encoded_len()));
                dst.put_slice(&self.body);
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("type", &self.message_type())
                    .field("body_len", &self.body.len())
                    .finish()
            }
        }
    };
}

extension_message!(
    /// A client message of a negotiated extension type (below 0x80, not core).
    ClientExtension,
    Role::Client
);

extension_message!(
    /// A server message of a negotiated extension type (0x80 and above, not core).
    ServerExtension,
    Role::Server
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_set_holds_exactly_its_five_types() {
        let set = ExtensionTypes::sync();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [0x10, 0x11, 0x12, 0x91, 0x93]
        );
        let built = [0x10, 0x11, 0x12, 0x91, 0x93]
            .into_iter()
            .try_fold(ExtensionTypes::none(), ExtensionTypes::with)
            .expect("none are core");
        assert_eq!(built, set);
    }

    #[test]
    fn core_types_cannot_be_extensions() {
        for ty in [1, 2, 3, 4, 5, 0x80, 0x81, 0x82, 0x83] {
            assert!(ExtensionTypes::none().with(ty).is_err(), "0x{ty:02x}");
        }
        assert!(ExtensionTypes::none().with(0).is_ok());
        assert!(
            ExtensionTypes::none()
                .with(0xff)
                .expect("not core")
                .contains(0xff)
        );
    }

    #[test]
    fn extension_messages_keep_their_role() {
        assert!(ClientExtension::new(0x10, Bytes::new()).is_ok());
        assert!(ClientExtension::new(0x91, Bytes::new()).is_err());
        assert!(ServerExtension::new(0x91, Bytes::new()).is_ok());
        assert!(ServerExtension::new(0x10, Bytes::new()).is_err());
        assert!(ServerExtension::new(0x80, Bytes::new()).is_err());
    }
}
