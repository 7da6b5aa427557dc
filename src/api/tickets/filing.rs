//! `POST /complaints` and `POST /disputes`: the request bodies, read into a
//! `domain::filing::Filing` and filed once through `service::filing`.

use actix_web::{HttpRequest, HttpResponse, http::header, post, web};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::{TicketResponse, etag};
use crate::api::JsonBody;
use crate::api::problems::{
    BadRequest, Forbidden, PayloadTooLarge, TooManyRequests, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use crate::auth::Auth;
use crate::db::models::IdempotencyRow;
use crate::domain::filing::{Filing, FilingInput, PartyInput};
use crate::domain::ids::UserId;
use crate::domain::people::TEXT_CODES;
use crate::domain::ticket::{Kind, Priority};
use crate::error::{ApiError, Invalid};
use crate::service::filing::{self, Filed, Once};
use crate::state::AppState;

/// A complaint (投诉/诉求).
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"category": "（类别编码）", "title": "（在此填写标题）", "description": "（在此描述问题）"}))]
pub struct CreateComplaint {
    /// A category `code` of kind `complaint` (see `GET /api/v1/categories`).
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub category: String,
    /// 1–100 characters.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub title: String,
    /// 1–4000 characters.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub description: String,
    /// Free text, up to 200 characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub location: Option<String>,
    /// WGS84, −90 to 90; give both coordinates or neither.
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    /// WGS84, −180 to 180.
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    /// Hide the reporter from household and building levels. Default `false`.
    pub anonymous: Option<bool>,
    /// Default `normal`.
    pub priority: Option<Priority>,
    /// Staff only: file for this resident (walk-in or phone call).
    pub on_behalf_of: Option<UserId>,
}

/// The other side of a dispute: a resident account, or a named outside party
/// (documented as [`RespondentDoc`]: one of the two, never both).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RespondentInput {
    /// A resident account (then leave out `name` and `phone`).
    pub user_id: Option<UserId>,
    /// An outside party's name, 1–64 characters.
    pub name: Option<String>,
    /// An outside party's phone.
    pub phone: Option<String>,
}

/// The other side of a dispute: a resident account (`user_id`), or an
/// outside party by `name` and optional `phone`; never both.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = RespondentInput)]
#[allow(dead_code)] // the document's shape of `RespondentInput`
pub enum RespondentDoc {
    Resident(ResidentParty),
    Outside(OutsideParty),
}

/// A party with a resident account.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the document's shape only
pub struct ResidentParty {
    /// A resident account of the dispute's community.
    pub user_id: UserId,
}

/// A party outside the grid's accounts, by name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the document's shape only
pub struct OutsideParty {
    /// 1–64 characters.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub name: String,
    /// Mainland mobile or E.164.
    #[schema(pattern = r"^(1[3-9][0-9]{9}|\+861[3-9][0-9]{9}|\+[1-79][0-9]{7,14}|\+8[0-57-9][0-9]{6,13})$")]
    pub phone: Option<String>,
}

/// A neighbour dispute (矛盾纠纷). The reporter is the applicant.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"category": "（类别编码）", "title": "（在此填写标题）", "description": "（在此描述纠纷）",
    "respondents": [{"name": "（对方姓名）"}]}))]
pub struct CreateDispute {
    /// A category `code` of kind `dispute`.
    #[schema(
        min_length = 1,
        max_length = 32,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub category: String,
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub title: String,
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"
    )]
    pub description: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\u200b-\u200d\u2060\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]*$"
    )]
    pub location: Option<String>,
    #[schema(minimum = -90, maximum = 90)]
    pub latitude: Option<f64>,
    #[schema(minimum = -180, maximum = 180)]
    pub longitude: Option<f64>,
    /// Default `normal`.
    pub priority: Option<Priority>,
    /// Staff only: file for this resident.
    pub on_behalf_of: Option<UserId>,
    /// 1–10 respondents (被申请人).
    #[schema(value_type = Vec<RespondentDoc>, min_items = 1, max_items = 10)]
    pub respondents: Vec<RespondentInput>,
}

impl RespondentInput {
    pub fn party_input(&self) -> PartyInput<'_> {
        PartyInput {
            user_id: self.user_id,
            name: self.name.as_deref(),
            phone: self.phone.as_deref(),
        }
    }
}

/// The fields both kinds share, as `domain::filing` reads them.
macro_rules! filing_input {
    ($body:ty) => {
        impl $body {
            fn filing_input(&self, kind: Kind) -> FilingInput<'_> {
                FilingInput {
                    kind,
                    category: &self.category,
                    title: &self.title,
                    description: &self.description,
                    location: self.location.as_deref(),
                    latitude: self.latitude,
                    longitude: self.longitude,
                    anonymous: None,
                    priority: self.priority,
                    on_behalf_of: self.on_behalf_of,
                    respondents: None,
                }
            }
        }
    };
}
filing_input!(CreateComplaint);
filing_input!(CreateDispute);

const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(value) = req.headers().get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value
        .to_str()
        .ok()
        .map(str::trim)
        .filter(|k| (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()));
    match key {
        Some(key) => Ok(Some(key.to_owned())),
        None => Err(ApiError::field(
            IDEMPOTENCY_HEADER,
            Invalid::new(
                "invalid",
                "Use 1 to 200 visible ASCII characters.",
                "须为 1 到 200 个可见 ASCII 字符。",
            ),
        )),
    }
}

fn replay(row: IdempotencyRow) -> HttpResponse {
    let status = actix_web::http::StatusCode::from_u16(u16::try_from(row.status_code).unwrap_or(500))
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    response
        .content_type("application/json")
        .insert_header(("Idempotent-Replayed", "true"));
    if let Some(location) = row.location {
        response.insert_header((header::LOCATION, location));
    }
    // The first answer's ETag named the version its body shows.
    #[derive(serde::Deserialize)]
    struct Versioned {
        version: i64,
    }
    if let Ok(Versioned { version }) = serde_json::from_str(&row.response_body) {
        response.insert_header((header::ETAG, etag(version)));
    }
    response.body(row.response_body)
}

/// Files once per key (see `service::filing::file_once`) and answers 201
/// with the ticket, or the stored response of the first request.
async fn file_and_respond(
    state: &AppState,
    req: &HttpRequest,
    auth: Auth,
    filing: Filing,
    request_hash: String,
) -> Result<HttpResponse, ApiError> {
    let once = Once {
        key: idempotency_key(req)?,
        request_hash,
    };
    let caller = auth.caller;
    let now = state.clock.now_naive();
    let attempt = {
        let (caller, once) = (caller.clone(), once.clone());
        let caches = state.caches.pin();
        state.db.write(move |conn| {
            filing::file_once(conn, &caller, filing, &once, now, &caches, |_, ticket, context| {
                serde_json::to_string(&context.response(&caller, ticket, now)?).map_err(ApiError::internal)
            })
        })
    };
    let filed = match attempt.await {
        // Two requests with one key at once: the loser's insert of the key
        // failed and its transaction rolled back; answer with the winner's.
        Err(ApiError::Conflict {
            code: "idempotency_race",
            ..
        }) => {
            let caller_id = caller.id.0;
            let key = once.key.clone().unwrap_or_default();
            let stored = state
                .db
                .run(move |conn| filing::stored_filing(conn, caller_id, &key, now))
                .await?
                .ok_or(ApiError::Internal)?;
            Filed::Replayed(filing::replayable(stored, &once.request_hash)?)
        }
        other => other?,
    };
    Ok(match filed {
        Filed::New {
            ticket_id,
            version,
            body,
        } => HttpResponse::Created()
            .content_type("application/json")
            .insert_header((header::LOCATION, filing::ticket_location(ticket_id)))
            .insert_header((header::ETAG, etag(version)))
            .body(body),
        Filed::Replayed(stored) => replay(stored),
    })
}

fn request_hash<T: Serialize>(kind: Kind, input: &T) -> Result<String, ApiError> {
    let json = serde_json::to_vec(input).map_err(ApiError::internal)?;
    let mut hasher = Sha256::new();
    hasher.update(kind.as_str().as_bytes());
    hasher.update(b"\n");
    hasher.update(&json);
    Ok(hex::encode(hasher.finalize()))
}

/// File a complaint
///
/// Residents file for themselves; staff file for a resident who came in or
/// phoned (`on_behalf_of`, recorded on the ticket). The ticket lands at the
/// lowest unit that serves the reporter and is at or above the category's
/// entry level. Send an `Idempotency-Key` header to retry safely: the same
/// key from the same user within 24 hours answers the first response again
/// (with `Idempotent-Replayed: true`) and creates nothing new. A resident
/// files at most 10 tickets (complaints and disputes) an hour; the 11th
/// answers 429 with `Retry-After`.
#[utoipa::path(
    tag = "tickets",
    request_body = CreateComplaint,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–200 visible ASCII characters; makes retries safe for 24 hours", pattern = r"^[!-~]{1,200}$")),
    responses(
        (status = 201, description = "The complaint was filed (or an earlier response is replayed).", body = TicketResponse,
            headers(("Location" = String, description = "URL of the ticket"), ("ETag" = String, description = "The ticket's version"),
                ("Idempotent-Replayed" = Option<String>, description = "`true` when this is the first answer to the same `Idempotency-Key` again, headers and body as they were"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyRequests),
    ),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"403": ["staff_only"], "429": ["too_many_filings"]})),
        ("x-field-codes" = json!({"category": ["not_found", "wrong_kind"], "title": TEXT_CODES, "description": TEXT_CODES,
            "location": TEXT_CODES, "latitude": ["out_of_range", "required"], "longitude": ["out_of_range", "required"],
            "on_behalf_of": ["required", "not_found"], "Idempotency-Key": ["invalid", "reused"]}))
    )
)]
#[post("/complaints")]
async fn create_complaint(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: JsonBody<CreateComplaint>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let hash = request_hash(Kind::Complaint, &input)?;
    let filing = Filing::parse(FilingInput {
        anonymous: input.anonymous,
        ..input.filing_input(Kind::Complaint)
    })?;
    file_and_respond(&state, &req, auth, filing, hash).await
}

/// File a dispute
///
/// Like a complaint, plus the respondents: resident accounts (`user_id`) or
/// named outside parties. A resident respondent lives in the dispute's
/// community (anyone else is 422 `not_found` on `respondents[i].user_id`):
/// name a neighbour whose account you do not know as an outside party. The
/// reporter is the applicant. Disputes enter at building level or above and
/// cannot be anonymous. Counts towards the resident's 10 filings an hour.
#[utoipa::path(
    tag = "tickets",
    request_body = CreateDispute,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–200 visible ASCII characters; makes retries safe for 24 hours", pattern = r"^[!-~]{1,200}$")),
    responses(
        (status = 201, description = "The dispute was filed (or an earlier response is replayed).", body = TicketResponse,
            headers(("Location" = String, description = "URL of the ticket"), ("ETag" = String, description = "The ticket's version"),
                ("Idempotent-Replayed" = Option<String>, description = "`true` when this is the first answer to the same `Idempotency-Key` again, headers and body as they were"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
        (status = 429, response = TooManyRequests),
    ),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"403": ["staff_only"], "429": ["too_many_filings"]})),
        ("x-field-codes" = json!({"category": ["not_found", "wrong_kind"], "title": TEXT_CODES, "description": TEXT_CODES,
            "location": TEXT_CODES, "latitude": ["out_of_range", "required"], "longitude": ["out_of_range", "required"],
            "on_behalf_of": ["required", "not_found"], "Idempotency-Key": ["invalid", "reused"], "respondents": ["count"],
            "respondents[]": ["account_or_name"], "respondents[].name": TEXT_CODES, "respondents[].phone": ["invalid_phone"],
            "respondents[].user_id": ["not_found"]}))
    )
)]
#[post("/disputes")]
async fn create_dispute(
    state: web::Data<AppState>,
    req: HttpRequest,
    auth: Auth,
    body: JsonBody<CreateDispute>,
) -> Result<HttpResponse, ApiError> {
    let input = body.0;
    let hash = request_hash(Kind::Dispute, &input)?;
    let respondents: Vec<PartyInput<'_>> = input.respondents.iter().map(RespondentInput::party_input).collect();
    let filing = Filing::parse(FilingInput {
        respondents: Some(&respondents),
        ..input.filing_input(Kind::Dispute)
    })?;
    file_and_respond(&state, &req, auth, filing, hash).await
}
