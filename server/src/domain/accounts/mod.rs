//! Staff accounts: [`sessions`] (login with lockout, refresh-token rotation, logout) and
//! [`users`] (user management scoped by role and region).

pub mod sessions;
pub mod users;

pub use sessions::{Session, issue_session, login, logout, refresh};
pub use users::{
    NewUser, UserFilter, UserPatch, create_user, create_user_unscoped, deactivate_user, list_users,
    may_manage, reset_password, seal_phone, update_user,
};
