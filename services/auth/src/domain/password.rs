//! The rules a new password must pass. Hashing is elsewhere
//! ([`crate::password_hasher`]): it needs a worker pool, not a rule.

use secrecy::{ExposeSecret, SecretString};

use super::Invalid;

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
    pub fn parse(raw: &SecretString) -> Result<Self, Invalid> {
        let value = raw.expose_secret();
        let length = value.chars().count();
        if !(12..=1024).contains(&length) {
            return Err(Invalid {
                field: "password",
                message: "must be 12 to 1024 characters long",
            });
        }
        let lowered = value.to_lowercase();
        let single_character = value.chars().all(|c| value.starts_with(c));
        if single_character || COMMON_PASSWORDS.contains(&lowered.as_str()) {
            return Err(Invalid {
                field: "password",
                message: "is one of the most common passwords; choose another",
            });
        }
        Ok(Self(raw.clone()))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
