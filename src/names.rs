//! One string table per enum: [`named_enum!`] gives an enum its names once,
//! and from that one table its `as_str`, `Display`, lookup by name, and its
//! serde form (the JSON report, the worker protocol), so that no other
//! file spells the names again.

/// Gives `$ty` the names listed: `as_str` (with the visibility given),
/// `from_name`, `Display`, `Serialize` as the name and `Deserialize` from
/// it (an unknown name is an error that lists the known ones).
macro_rules! named_enum {
    ($(#[$doc:meta])* $vis:vis $ty:ident { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            $(#[$doc])*
            $vis fn as_str(self) -> &'static str {
                match self {
                    $($ty::$variant => $name,)+
                }
            }

            /// The variant named `name` (`as_str`'s inverse).
            #[allow(dead_code)]
            pub(crate) fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some($ty::$variant),)+
                    _ => None,
                }
            }

            /// Every name, in declaration order.
            #[allow(dead_code)]
            pub(crate) const NAMES: &'static [&'static str] = &[$($name),+];
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                $ty::from_name(&name).ok_or_else(|| {
                    serde::de::Error::custom(format!(
                        "unknown {} {name:?} (one of {})",
                        stringify!($ty),
                        $ty::NAMES.join(", ")
                    ))
                })
            }
        }
    };
}

pub(crate) use named_enum;
