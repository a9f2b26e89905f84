//! The server's answer to a WebSocket upgrade request, by the Mosaic header
//! rules of mosaic-handshake, in the shape tungstenite's accept callback takes.

use http::{Response, StatusCode};
use mosaic_handshake::{Decision, Negotiated, ServerPolicy};
use tungstenite::handshake::server::{ErrorResponse, Request};

/// What became of an upgrade request.
#[derive(Clone, Debug)]
pub enum UpgradeOutcome {
    /// Accepted as Mosaic with what was negotiated.
    Mosaic(Negotiated),
    /// Accepted as nostr (dual-stack mode, no `mosaic2024` offered).
    Nostr,
    /// Refused with this status and one-line reason (sent as the body).
    Rejected {
        /// The HTTP status sent.
        status: StatusCode,
        /// The reason sent.
        reason: String,
    },
}

/// Answers an upgrade request as the policy decides: the 101 response with the
/// Mosaic headers added, or an error response with the status and reason.
/// The outcome is written to `outcome`.
// The signature is tungstenite's accept callback's, error type included.
#[allow(clippy::result_large_err)]
pub fn answer_upgrade(
    policy: &ServerPolicy,
    request: &Request,
    mut response: Response<()>,
    outcome: &mut Option<UpgradeOutcome>,
) -> Result<Response<()>, ErrorResponse> {
    let decision = policy.decide(request);
    decision.apply_to(&mut response);
    match decision {
        Decision::Mosaic { negotiated, .. } => {
            *outcome = Some(UpgradeOutcome::Mosaic(negotiated));
            Ok(response)
        }
        Decision::Nostr => {
            *outcome = Some(UpgradeOutcome::Nostr);
            Ok(response)
        }
        Decision::Reject { status, reason } => {
            let reason = reason.to_string();
            *outcome = Some(UpgradeOutcome::Rejected {
                status,
                reason: reason.clone(),
            });
            let mut error = Response::new(Some(reason));
            *error.status_mut() = status;
            if let Ok(value) = http::HeaderValue::from_str("text/plain; charset=utf-8") {
                error
                    .headers_mut()
                    .insert(http::header::CONTENT_TYPE, value);
            }
            Err(error)
        }
    }
}

/// [`answer_upgrade`] as the callback tungstenite's `accept_hdr` functions take.
#[allow(clippy::result_large_err)]
pub fn upgrade_callback<'a>(
    policy: &'a ServerPolicy,
    outcome: &'a mut Option<UpgradeOutcome>,
) -> impl FnOnce(&Request, Response<()>) -> Result<Response<()>, ErrorResponse> + Unpin + 'a {
    move |request, response| answer_upgrade(policy, request, response, outcome)
}
