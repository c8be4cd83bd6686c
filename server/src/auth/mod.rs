//! Identity: staff passwords, access and refresh tokens, the WeChat mini-program
//! login, and the vault that keeps personal data (openids, phone numbers) encrypted at
//! rest.

pub mod password;
pub mod token;
pub mod vault;
pub mod wechat;
