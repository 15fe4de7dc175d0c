//! Closed vocabularies: enums whose every value has exactly one string form.
//!
//! Warden names many things with fixed words that are stored, sent over the API, counted
//! in metrics and written in the docs: job states, priorities, occurrence outcomes, run
//! outcomes, audit actions and outcomes, `/cron/run` outcomes, API error codes. Each is
//! declared once with [`vocabulary!`], which gives the enum its string form (`as_str`,
//! `Display`), its parse (`FromStr`, with a [`ParseError`](crate::ParseError) that lists
//! what is accepted), serde as that string, and `ALL`/`NAMES` for docs and tests. A word
//! is then written in one place only: everywhere else uses the variant, so a typo is a
//! compile error rather than a row nobody can find.

/// Declares a vocabulary: an enum of unit variants, each with its string form.
///
/// ```
/// warden_core::vocabulary! {
///     /// A colour.
///     #[derive(Default)]
///     pub enum Colour: "colour", "a colour" {
///         /// The default.
///         #[default]
///         Red = "red",
///         Green = "green",
///     }
/// }
/// assert_eq!(Colour::Green.as_str(), "green");
/// assert_eq!("red".parse::<Colour>().unwrap(), Colour::Red);
/// assert_eq!(Colour::NAMES, ["red", "green"]);
/// let err = "blue".parse::<Colour>().unwrap_err().to_string();
/// assert_eq!(err, "invalid `colour`: \"blue\" is not a colour; expected red or green");
/// ```
///
/// `"colour"` is the field a parse error names; `"a colour"` completes "… is not".
/// The enum derives `Debug, Clone, Copy, PartialEq, Eq, Hash`; add others above it.
#[macro_export]
macro_rules! vocabulary {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $field:literal, $what:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $word:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$vmeta])* $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$($word),+].len()] = [$($name::$variant),+];
            /// Every value's string form, in declaration order.
            pub const NAMES: &'static [&'static str] = &[$($word),+];

            /// The value's one string form (stored, sent and documented).
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $word),+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::ParseError;
            fn from_str(s: &str) -> ::std::result::Result<Self, $crate::ParseError> {
                match s {
                    $($word => Ok($name::$variant),)+
                    _ => Err($crate::ParseError::new(
                        $field,
                        format!("{} is not {}", $crate::error::excerpt(s), $what),
                        $crate::vocab::either(Self::NAMES),
                    )),
                }
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                struct Word;
                impl ::serde::de::Visitor<'_> for Word {
                    type Value = $name;
                    fn expecting(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                        write!(f, "one of {}", $crate::vocab::either($name::NAMES))
                    }
                    fn visit_str<E: ::serde::de::Error>(self, s: &str) -> ::std::result::Result<$name, E> {
                        match s {
                            $($word => Ok($name::$variant),)+
                            _ => Err(E::unknown_variant(s, $name::NAMES)),
                        }
                    }
                }
                d.deserialize_str(Word)
            }
        }
    };
}

/// `a`, `a or b`, `a, b or c`: a list of accepted words for a message.
pub fn either(words: &[&str]) -> String {
    match words {
        [] => String::new(),
        [one] => (*one).to_owned(),
        [head @ .., last] => format!("{} or {last}", head.join(", ")),
    }
}

#[cfg(test)]
#[allow(unreachable_pub)] // the test vocabulary's items are `pub` as a real one's are
mod tests {
    use super::either;

    crate::vocabulary! {
        /// Test vocabulary.
        enum Sample: "sample", "a sample" {
            One = "one",
            Two = "two:x",
            Three = "three",
        }
    }

    #[test]
    fn every_word_parses_back_to_its_value_and_others_are_refused_naming_the_list() {
        for v in Sample::ALL {
            assert_eq!(v.as_str().parse::<Sample>().unwrap(), v);
            assert_eq!(v.to_string(), v.as_str());
        }
        let e = "four".parse::<Sample>().unwrap_err();
        assert_eq!(e.field, "sample");
        assert_eq!(e.expected, "one, two:x or three");
    }

    #[test]
    fn serde_uses_the_string_form_and_refuses_unknown_words() {
        assert_eq!(serde_json::to_string(&Sample::Two).unwrap(), "\"two:x\"");
        let back: Sample = serde_json::from_str("\"two:x\"").unwrap();
        assert_eq!(back, Sample::Two);
        let e = serde_json::from_str::<Sample>("\"four\"").unwrap_err();
        assert!(e.to_string().contains("unknown variant `four`"), "{e}");
    }

    #[test]
    fn lists_read_as_prose() {
        assert_eq!(either(&["a"]), "a");
        assert_eq!(either(&["a", "b"]), "a or b");
        assert_eq!(either(&["a", "b", "c"]), "a, b or c");
    }
}
