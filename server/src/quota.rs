//! The optional per-user storage quota (`--quota-bytes`): the bytes a user's
//! stored objects take (ciphertext), checked when an upload starts.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

/// Objects listed per page while adding up a user's usage.
const PAGE: i32 = 1000;

/// Refuses an upload of `size` plaintext bytes that would take `caller` over the
/// quota (`413 quota_exceeded`, saying how much is used and allowed). Uploads in
/// progress are not counted until they complete.
///
/// # Errors
/// 413 over the quota; store errors while listing.
pub async fn check(state: &AppState, caller: &Caller, size: u64) -> Result<(), ApiError> {
    let Some(quota) = state.limits.quota_bytes else {
        return Ok(());
    };
    let mut used: u64 = 0;
    let mut next = None;
    loop {
        let page = state.store.list(&caller.prefix(), PAGE, next).await?;
        used = page
            .objects
            .iter()
            .fold(used, |sum, o| sum.saturating_add(o.size));
        next = page.next;
        if next.is_none() || used >= quota {
            break;
        }
    }
    if used.saturating_add(size) > quota {
        return Err(ApiError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            "quota_exceeded",
            format!(
                "this file does not fit in your storage quota: {used} of {quota} bytes are in use; \
                 delete files to make room"
            ),
        ));
    }
    Ok(())
}
