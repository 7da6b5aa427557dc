//! A request whose body has not fully arrived when its answer is ready ends
//! its connection with that answer.
//!
//! actix-web closes such a connection for a body sent with
//! `Content-Length`, but a chunked body it goes on reading and discarding
//! after the answer, for as long as the client sends it: a client could
//! hold a connection for ever by dribbling chunks after a 408 (or to an
//! operation that reads no body). actix closes instead when the body's
//! stream is still alive while the answer is written, so the middleware
//! keeps it alive that long, inside the answer's body.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::HttpMessage;
use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::web::Bytes;
use futures_util::Stream;

/// The request body, shared between the handler and the answer.
struct SharedPayload(Rc<RefCell<Payload>>);

impl Stream for SharedPayload {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut *self.0.borrow_mut()).poll_next(cx)
    }
}

/// An answer's body that keeps the request body alive until it is written.
pub struct HoldsRequestBody {
    body: BoxBody,
    _request_body: Rc<RefCell<Payload>>,
}

impl MessageBody for HoldsRequestBody {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, Self::Error>>> {
        Pin::new(&mut self.body).poll_next(cx)
    }
}

/// Middleware body (see the module comment).
pub async fn close_on_unread_body(
    mut req: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<HoldsRequestBody>, actix_web::Error> {
    let shared = Rc::new(RefCell::new(req.take_payload()));
    req.set_payload(Payload::Stream {
        payload: Box::pin(SharedPayload(Rc::clone(&shared))),
    });
    let res = next.call(req).await?;
    Ok(res.map_into_boxed_body().map_body(|_, body| HoldsRequestBody {
        body,
        _request_body: shared,
    }))
}
