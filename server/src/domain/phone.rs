//! Mainland China mobile numbers.

use std::fmt;

use crate::error::{AppError, Msg};

/// A mainland China mobile number: 11 digits, `1[3-9]` then nine more.
///
/// Personal data: `Debug` shows only the masked form, and there is deliberately no
/// `Display`; use [`Phone::as_str`] to encrypt it and [`Phone::masked`] to show it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// The 11 digits, e.g. `13812345678` (for encryption, never for logs).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number with its middle four digits hidden, e.g. `138****5678`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }

    /// The last four digits, e.g. `5678`.
    pub fn last4(&self) -> &str {
        &self.0[7..]
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl TryFrom<&str> for Phone {
    type Error = AppError;

    /// Accepts `13812345678`, `138 1234 5678`, `138-1234-5678` and a `+86` prefix.
    fn try_from(input: &str) -> Result<Self, AppError> {
        let invalid = || {
            AppError::bad_input(
                "INVALID_PHONE",
                Msg::new(
                    "手机号无效：请输入 11 位中国大陆手机号",
                    "invalid phone number: expected an 11-digit mainland China mobile number",
                ),
            )
            .at("phone")
        };
        // Anything much longer than a formatted number is not one; don't scan it.
        if input.len() > 32 {
            return Err(invalid());
        }
        let compact: String = input
            .trim()
            .chars()
            .filter(|c| !matches!(c, ' ' | '-'))
            .collect();
        let digits = compact.strip_prefix("+86").unwrap_or(&compact);
        let bytes = digits.as_bytes();
        let valid = bytes.len() == 11
            && bytes.iter().all(u8::is_ascii_digit)
            && bytes[0] == b'1'
            && (b'3'..=b'9').contains(&bytes[1]);
        if valid {
            Ok(Self(digits.to_owned()))
        } else {
            Err(invalid())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn accepts_mainland_mobiles_in_common_spellings() {
        let cases = [
            ("13812345678", "13812345678"),
            ("19912345678", "19912345678"),
            ("  15012345678 ", "15012345678"),
            ("138 1234 5678", "13812345678"),
            ("138-1234-5678", "13812345678"),
            ("+8613812345678", "13812345678"),
            ("+86 138 1234 5678", "13812345678"),
            ("+86-138-1234-5678", "13812345678"),
        ];
        for (input, want) in cases {
            let phone = Phone::try_from(input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
            assert_eq!(phone.as_str(), want, "{input:?}");
        }
    }

    #[test]
    fn rejects_everything_else() {
        let cases = [
            "",
            "   ",
            "1381234567",             // 10 digits
            "138123456789",           // 12 digits
            "12812345678",            // 12x is not a mobile prefix
            "10812345678",            // nor 10x
            "23812345678",            // not starting with 1
            "1381234567a",            // a letter
            "１３８１２３４５６７８", // full-width digits
            "8613812345678",          // country code without +
            "+8713812345678",         // another country
            "+86+8613812345678",
            "138.1234.5678",
            "0138 1234 5678",
            "010-12345678", // a landline
            "1 3 8 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5",
        ];
        for input in cases {
            let err = Phone::try_from(input).unwrap_err();
            assert_eq!(err.code(), "BAD_INPUT", "{input:?}");
            assert!(
                err.to_string().starts_with("手机号无效"),
                "{input:?}: {err}"
            );
        }
    }

    #[test]
    fn masks_and_shows_last_four() {
        let cases = [
            ("13812345678", "138****5678", "5678"),
            ("+86 199 0000 0001", "199****0001", "0001"),
        ];
        for (input, masked, last4) in cases {
            let phone = Phone::try_from(input).unwrap();
            assert_eq!(phone.masked(), masked);
            assert_eq!(phone.last4(), last4);
            assert_eq!(format!("{phone:?}"), format!("Phone({masked})"));
        }
    }
}
