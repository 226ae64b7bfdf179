//! Opaque identifiers. Each is a cheap-to-clone shared string (ids are copied onto every
//! delivery, so cloning must not allocate). One that arrives from a client may not contain
//! control characters: no id has them, and PostgreSQL cannot even compare a string with NUL.

use std::sync::Arc;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(Arc<str>);

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let id = <String as serde::Deserialize>::deserialize(d)?;
                if id.chars().any(char::is_control) {
                    return Err(serde::de::Error::custom("an id has no control characters"));
                }
                Ok(Self(id.into()))
            }
        }

        impl $name {
            /// A fresh, time-ordered identifier (UUID v7 in its simple form).
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().simple().to_string().into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s.into())
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.into())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                String::schema()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

id_type!(
    /// Identifies a user account.
    UserId
);
id_type!(
    /// Identifies a room (public, private or direct).
    RoomId
);
id_type!(
    /// Identifies one signed-in session (one device or browser).
    SessionId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_clients_have_no_control_characters() {
        let id: RoomId = serde_json::from_str(r#""R_cafe""#).unwrap();
        assert_eq!(id.as_str(), "R_cafe");
        assert!(serde_json::from_str::<RoomId>(r#""R\u0000cafe""#).is_err());
        assert!(serde_json::from_str::<UserId>(r#""U\nana""#).is_err());
    }
}
