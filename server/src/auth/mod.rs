//! Identity: the WeChat mini-program login and the vault that keeps personal data
//! (openids, phone numbers) encrypted at rest.

pub mod vault;
pub mod wechat;
