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
            // The same headers as a `Refusal`'s: the body's length, and the
            // close that follows.
            let headers = [
                (
                    http::header::CONTENT_TYPE,
                    "text/plain; charset=utf-8".into(),
                ),
                (http::header::CONTENT_LENGTH, reason.len().to_string()),
                (http::header::CONNECTION, "close".into()),
            ];
            let mut error = Response::new(Some(reason));
            *error.status_mut() = status;
            for (name, value) in headers {
                if let Ok(value) = http::HeaderValue::from_str(&value) {
                    error.headers_mut().insert(name, value);
                }
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

/// An HTTP refusal of an upgrade request that tungstenite refused before the
/// Mosaic rules saw it: not a WebSocket upgrade at all (a browser opening the
/// `https://` address, a POST), another WebSocket version, a bad key, or a
/// malformed or oversized request head. tungstenite drops such a connection
/// without a word; the server sends this instead, so that the client learns
/// why (RFC 6455 4.2.2: 400, or 426 with the version spoken).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: StatusCode,
    /// The one-line reason, sent as the body.
    pub reason: String,
}

impl Refusal {
    /// The refusal for `error`, from tungstenite's server handshake; `None`
    /// when there is nobody to answer (the transport failed or the request
    /// never finished) or the answer already went (a refusal by the Mosaic
    /// rules, which tungstenite sends itself).
    pub fn for_error(error: &tungstenite::Error) -> Option<Refusal> {
        use tungstenite::error::{CapacityError, Error, ProtocolError as P};
        let (status, reason) = match error {
            Error::Protocol(P::MissingSecWebSocketVersionHeader) => (
                StatusCode::UPGRADE_REQUIRED,
                "WebSocket version 13 is the only one spoken here".to_owned(),
            ),
            Error::Protocol(
                problem @ (P::WrongHttpMethod
                | P::WrongHttpVersion
                | P::MissingConnectionUpgradeHeader
                | P::MissingUpgradeWebSocketHeader
                | P::MissingSecWebSocketKey
                | P::InvalidSecWebSocketKey
                | P::InvalidHeader(_)
                | P::HttparseError(_)
                | P::JunkAfterRequest),
            ) => (
                StatusCode::BAD_REQUEST,
                format!("not a WebSocket upgrade request: {problem}"),
            ),
            Error::HttpFormat(problem) => (
                StatusCode::BAD_REQUEST,
                format!("not a WebSocket upgrade request: {problem}"),
            ),
            Error::Capacity(CapacityError::TooManyHeaders) | Error::AttackAttempt => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request head too large, or sent in too many pieces".to_owned(),
            ),
            _ => return None,
        };
        Some(Refusal { status, reason })
    }

    /// The HTTP/1.1 response: status line, headers (the version spoken with
    /// a 426), and the reason as a plain-text body.
    pub fn to_http(&self) -> Vec<u8> {
        let mut head = format!(
            "HTTP/1.1 {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.reason.len()
        );
        if self.status == StatusCode::UPGRADE_REQUIRED {
            head.push_str("Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n");
        }
        head.push_str("\r\n");
        let mut response = head.into_bytes();
        response.extend_from_slice(self.reason.as_bytes());
        response
    }
}

#[cfg(test)]
mod tests {
    use tungstenite::error::{CapacityError, Error, ProtocolError};

    use super::*;

    fn status(error: Error) -> Option<u16> {
        Refusal::for_error(&error).map(|refusal| refusal.status.as_u16())
    }

    #[test]
    fn requests_tungstenite_refuses_get_a_status() {
        use ProtocolError as P;
        assert_eq!(
            status(Error::Protocol(P::MissingSecWebSocketVersionHeader)),
            Some(426)
        );
        for problem in [
            P::WrongHttpMethod,
            P::WrongHttpVersion,
            P::MissingConnectionUpgradeHeader,
            P::MissingUpgradeWebSocketHeader,
            P::MissingSecWebSocketKey,
            P::InvalidSecWebSocketKey,
            P::JunkAfterRequest,
        ] {
            assert_eq!(status(Error::Protocol(problem)), Some(400));
        }
        assert_eq!(
            status(Error::Capacity(CapacityError::TooManyHeaders)),
            Some(431)
        );
        assert_eq!(status(Error::AttackAttempt), Some(431));
    }

    #[test]
    fn failures_with_nobody_to_answer_get_none() {
        let answered = Response::builder()
            .status(400)
            .body(None)
            .expect("response");
        for error in [
            Error::ConnectionClosed,
            Error::Io(std::io::ErrorKind::ConnectionReset.into()),
            Error::Protocol(ProtocolError::HandshakeIncomplete),
            Error::Http(Box::new(answered)),
        ] {
            assert_eq!(status(error), None);
        }
    }

    #[test]
    fn a_refusal_by_the_mosaic_rules_says_its_length_and_the_close() {
        let policy = ServerPolicy::builder().build().expect("policy");
        let request = Request::builder()
            .uri("/")
            .header("sec-websocket-protocol", "chat")
            .body(())
            .expect("request");
        let mut outcome = None;
        let refused = answer_upgrade(&policy, &request, Response::new(()), &mut outcome)
            .expect_err("no mosaic2024: refused");
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let body = refused.body().clone().expect("a reason");
        let header = |name| refused.headers().get(name).and_then(|v| v.to_str().ok());
        assert_eq!(
            header("content-length"),
            Some(body.len().to_string().as_str())
        );
        assert_eq!(header("connection"), Some("close"));
        assert_eq!(header("content-type"), Some("text/plain; charset=utf-8"));
        assert!(matches!(
            outcome,
            Some(UpgradeOutcome::Rejected { status, reason }) if status == 400 && reason == body
        ));
    }

    #[test]
    fn the_response_carries_the_status_reason_and_version() {
        let refusal = Refusal::for_error(&Error::Protocol(
            ProtocolError::MissingSecWebSocketVersionHeader,
        ))
        .expect("refused");
        let text = String::from_utf8(refusal.to_http()).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        let mut lines = head.split("\r\n");
        assert_eq!(lines.next(), Some("HTTP/1.1 426 Upgrade Required"));
        let headers: Vec<&str> = lines.collect();
        assert!(headers.contains(&"Sec-WebSocket-Version: 13"));
        assert!(headers.contains(&"Upgrade: websocket"));
        assert!(headers.contains(&format!("Content-Length: {}", body.len()).as_str()));
        assert_eq!(body, refusal.reason);

        let bad = Refusal::for_error(&Error::Protocol(ProtocolError::MissingSecWebSocketKey))
            .expect("refused");
        let text = String::from_utf8(bad.to_http()).expect("utf-8");
        assert!(text.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(!text.contains("Sec-WebSocket-Version"));
        assert!(text.ends_with("not a WebSocket upgrade request: No \"Sec-WebSocket-Key\" header"));
    }
}
