//! Accounts: creating one (sign-up, and `auth-service create-admin`), and
//! the signed-in user every `/v1/me` request acts on.

use secrecy::SecretString;
use serde_json::json;
use tenant_core::TenantContext;
use tenant_core::email::Email;

use crate::AuthState;
use crate::domain::audit::AuditEvent;
use crate::domain::display_name::DisplayName;
use crate::domain::password::NewPassword;
use crate::domain::user::User;
use crate::error::AuthError;
use crate::repository::{audit, sessions, users};

/// Creates an account with `platform_role` (`user`, or `admin` from the
/// command line). The password is hashed before a connection is taken.
pub async fn create_user(
    state: &AuthState,
    email: &str,
    password: &SecretString,
    display_name: &str,
    platform_role: &str,
) -> Result<User, AuthError> {
    let email = Email::parse(email)?;
    let display_name = DisplayName::parse(display_name)?;
    let password = NewPassword::parse(password)?;
    let hash = state.hasher.hash(password.secret()).await?;
    let _connection = state.public_flow_connection().await?;
    let tx = state.db.unscoped_tx().await?;
    let user = users::insert(
        &tx,
        email.as_str(),
        display_name.as_str(),
        &hash,
        platform_role,
    )
    .await?;
    audit::record(
        &tx,
        AuditEvent::new("user_created")
            .user(user.id)
            .details(json!({ "platform_role": platform_role })),
    )
    .await?;
    tx.commit().await?;
    Ok(user)
}

/// The signed-in user, refusing ended sessions and disabled users even
/// before the gateway has caught up with the revocation.
pub async fn current_user(state: &AuthState, ctx: &TenantContext) -> Result<User, AuthError> {
    let user_id = ctx.require_user()?;
    let tx = state.db.unscoped_tx().await?;
    if let Some(session_id) = ctx.session_id()
        && !sessions::is_live(&tx, session_id, user_id).await?
    {
        return Err(AuthError::SessionEnded);
    }
    let user = users::by_id(&tx, user_id)
        .await?
        .ok_or(AuthError::SessionEnded)?;
    if user.disabled {
        return Err(AuthError::SessionEnded);
    }
    Ok(user)
}
