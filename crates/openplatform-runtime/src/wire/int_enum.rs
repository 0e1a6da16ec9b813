//! The wire half of a generated enumeration that travels as an integer: each generated
//! enum has `code` and `from_code` of its own (its values are the spec's), and these
//! impls, alike for all of them, come from one macro rather than being written out
//! fourteen times in the generated code.

/// Implements, for an enum with `const fn code(self) -> i64` and
/// `const fn from_code(i64) -> Self`: `From<i64>` and back, `Serialize` as the integer,
/// `Deserialize` and [`Tolerant`](crate::wire::Tolerant) from an integer or a numeric
/// string (as every integer the platform sends). Used by the generated code.
#[doc(hidden)]
#[macro_export]
macro_rules! int_enum_wire {
    ($name:ident) => {
        impl ::core::convert::From<i64> for $name {
            fn from(code: i64) -> Self {
                Self::from_code(code)
            }
        }

        impl ::core::convert::From<$name> for i64 {
            fn from(value: $name) -> i64 {
                value.code()
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(
                &self,
                serializer: S,
            ) -> ::core::result::Result<S::Ok, S::Error> {
                serializer.serialize_i64(self.code())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<Self, D::Error> {
                $crate::wire::tolerant::required::<D, i64>(deserializer).map(Self::from_code)
            }
        }

        impl $crate::wire::Tolerant for $name {
            fn deserialize_tolerant<'de, D: ::serde::Deserializer<'de>>(
                deserializer: D,
            ) -> ::core::result::Result<::core::option::Option<Self>, D::Error> {
                <i64 as $crate::wire::Tolerant>::deserialize_tolerant(deserializer)
                    .map(|code| code.map(Self::from_code))
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use crate::wire::Tolerant;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Colour {
        Red,
        Unknown(i64),
    }

    impl Colour {
        const fn code(self) -> i64 {
            match self {
                Colour::Red => 1,
                Colour::Unknown(code) => code,
            }
        }
        const fn from_code(code: i64) -> Self {
            match code {
                1 => Colour::Red,
                other => Colour::Unknown(other),
            }
        }
    }

    crate::int_enum_wire!(Colour);

    #[test]
    fn travels_as_an_integer_and_reads_numeric_strings() {
        assert_eq!(serde_json::to_string(&Colour::Red).unwrap(), "1");
        assert_eq!(
            serde_json::from_str::<Colour>("\"1\"").unwrap(),
            Colour::Red
        );
        assert_eq!(
            serde_json::from_str::<Colour>("7").unwrap(),
            Colour::Unknown(7)
        );
        assert!(serde_json::from_str::<Colour>("\"red\"").is_err());
        assert_eq!(i64::from(Colour::Unknown(9)), 9);
        assert_eq!(Colour::from(1), Colour::Red);
        let mut de = serde_json::Deserializer::from_str("null");
        assert_eq!(Colour::deserialize_tolerant(&mut de).unwrap(), None);
    }
}
