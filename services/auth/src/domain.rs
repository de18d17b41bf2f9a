//! Input that has been checked: an `Email`, a `NewPassword` or a
//! `DisplayName` cannot be built from bad data.

use secrecy::{ExposeSecret, SecretString};

use crate::error::AuthError;

/// A normalised (trimmed, lower-cased) address with one `@`, a non-empty
/// local part and a dotted domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let email = raw.trim().to_lowercase();
        let invalid = || AuthError::Invalid {
            field: "email",
            message: "is not a valid email address".into(),
        };
        if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = email.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
        if local.is_empty() || local.len() > 64 || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Passwords people pick most often that are long enough to pass the
/// length rule; shorter ones are refused by length already.
const COMMON_PASSWORDS: &[&str] = &[
    "123456789012",
    "1234567890123",
    "12345678901234",
    "123456123456",
    "123123123123",
    "111111111111",
    "000000000000",
    "999999999999",
    "121212121212",
    "112233445566",
    "123412341234",
    "987654321098",
    "098765432109",
    "qwertyuiopas",
    "qwertyqwerty",
    "qwerty123456",
    "qwerty123456789",
    "1q2w3e4r5t6y",
    "1qaz2wsx3edc",
    "q1w2e3r4t5y6",
    "zaq12wsxcde3",
    "asdfghjklasd",
    "asdfasdfasdf",
    "zxcvbnm12345",
    "zxcvbnmasdfg",
    "password1234",
    "password12345",
    "password123456",
    "passwordpassword",
    "password123!",
    "passw0rd1234",
    "p@ssw0rd1234",
    "p@ssword1234",
    "mypassword123",
    "newpassword123",
    "changeme1234",
    "changeme123!",
    "letmein12345",
    "letmeinletmein",
    "welcome12345",
    "welcome123456",
    "welcometo123",
    "iloveyou1234",
    "iloveyouiloveyou",
    "administrator",
    "administrator1",
    "admin1234567",
    "adminadmin123",
    "rootroot1234",
    "superman1234",
    "batman123456",
    "football1234",
    "baseball1234",
    "basketball12",
    "princess1234",
    "sunshine1234",
    "starwars1234",
    "monkey123456",
    "dragon123456",
    "master123456",
    "shadow123456",
    "michael12345",
    "jennifer1234",
    "trustno1trustno1",
    "whatever1234",
    "qazwsxedcrfv",
    "abcdefghijkl",
    "abc123abc123",
    "abcd1234abcd",
    "aaaaaaaaaaaa",
    "correcthorsebatterystaple",
    "thequickbrownfox",
    "iloveyou123456",
    "1234qwerasdf",
    "summer2024!!",
    "winter2024!!",
    "spring2024!!",
    "autumn2024!!",
    "summer123456",
    "computer1234",
    "internet1234",
    "samsung12345",
    "google123456",
    "facebook1234",
    "linkedin1234",
    "microsoft123",
    "testtesttest",
    "test12345678",
    "testing12345",
];

/// A password that may be set: 12..=1024 characters, not a common one.
pub struct NewPassword(SecretString);

impl std::fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NewPassword([REDACTED])")
    }
}

impl NewPassword {
    pub fn parse(raw: &SecretString) -> Result<Self, AuthError> {
        let value = raw.expose_secret();
        let length = value.chars().count();
        if !(12..=1024).contains(&length) {
            return Err(AuthError::Invalid {
                field: "password",
                message: "must be 12 to 1024 characters long".into(),
            });
        }
        let lowered = value.to_lowercase();
        let single_character = value.chars().all(|c| value.starts_with(c));
        if single_character || COMMON_PASSWORDS.contains(&lowered.as_str()) {
            return Err(AuthError::Invalid {
                field: "password",
                message: "is one of the most common passwords; choose another".into(),
            });
        }
        Ok(Self(raw.clone()))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

/// 1..=100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, AuthError> {
        let name = raw.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(AuthError::Invalid {
                field: "display_name",
                message: "must be 1 to 100 printable characters".into(),
            });
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_bad_ones_refused() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a da@example.com",
            "ada@@example.com",
            "ada@-x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords_need_length_and_must_not_be_common() {
        let ok = |p: &str| NewPassword::parse(&SecretString::from(p)).is_ok();
        assert!(ok("a perfectly fine passphrase"));
        assert!(!ok("short"));
        assert!(!ok(&"x".repeat(1025)));
        assert!(!ok("Password1234"));
        assert!(!ok("aaaaaaaaaaaaaaa"));
        assert!(ok(&"ab".repeat(512)));
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada  ").unwrap().as_str(), "Ada");
        assert!(DisplayName::parse("   ").is_err());
        assert!(DisplayName::parse(&"n".repeat(101)).is_err());
        assert!(DisplayName::parse("a\u{7}b").is_err());
    }
}
