//! A dispute's parties: applicants (申请人) and respondents (被申请人).

use actix_web::{HttpResponse, get, http::header, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::JsonBody;
use crate::api::problems::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType, ValidationFailed,
};
use crate::api::tickets::PartyResponse;
use crate::auth::Auth;
use crate::domain::filing::{PartyInput, parse_party};
use crate::domain::ids::UserId;
use crate::domain::mediation::PartyRole;
use crate::domain::people::TEXT_CODES;
use crate::error::{ApiError, Validator};
use crate::service::mediation as service;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"items": [
    {"id": 40, "role": "applicant", "user_id": 12, "name": "王芳", "phone": "13800001234"},
    {"id": 41, "role": "respondent", "user_id": null, "name": "李先生", "phone": "139****1234"}]}))]
pub struct PartyList {
    pub items: Vec<PartyResponse>,
}

/// Another party: a resident account (`user_id`), or an outside party by
/// `name` and optional `phone` (documented as [`AddPartyDoc`]).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddParty {
    pub role: PartyRole,
    /// A resident account (then leave out `name` and `phone`).
    pub user_id: Option<UserId>,
    /// An outside party's name, 1–64 characters.
    pub name: Option<String>,
    /// An outside party's phone (mainland mobile or E.164).
    pub phone: Option<String>,
}

/// Another party: a resident account (`user_id`), or an outside party by
/// `name` and optional `phone`; never both.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(as = AddParty, example = json!({"role": "respondent", "user_id": 0}))]
#[allow(dead_code)] // the document's shape of `AddParty`
pub enum AddPartyDoc {
    Resident(AddResidentParty),
    Outside(AddOutsideParty),
}

/// A resident account as a party.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the document's shape only
pub struct AddResidentParty {
    pub role: PartyRole,
    /// A resident account of the dispute's community.
    pub user_id: UserId,
}

/// An outside party, by name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // the document's shape only
pub struct AddOutsideParty {
    pub role: PartyRole,
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

/// A dispute's parties
///
/// Applicants (申请人) and respondents (被申请人), for everyone who may read
/// the dispute. Residents see no phone number but their own; staff below
/// committee level see them masked.
#[utoipa::path(
    tag = "mediation",
    params(("id" = i64, Path, description = "Dispute (ticket) id")),
    responses(
        (status = 200, description = "The parties, in the order they were added.", body = PartyList),
        (status = 401, response = Unauthorized),
        (status = 404, response = NotFound),
    ),
    security(("bearer" = []))
)]
#[get("/disputes/{id}/parties")]
pub(super) async fn list_parties(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
) -> Result<web::Json<PartyList>, ApiError> {
    let id = id.into_inner();
    let caller = auth.caller;
    let items = state
        .db
        .run(move |conn| {
            let d = service::readable_dispute(conn, &caller, id)?;
            let hidden = d.context.hidden_reporter(&caller, &d.ticket)?;
            Ok(d.context.party_responses(&caller, &d.ticket, hidden))
        })
        .await?;
    Ok(web::Json(PartyList { items }))
}

/// Add a party to a dispute
///
/// By staff working the dispute (its current unit is in their subtree) while
/// it is open. A resident account of the dispute's community joins once (409
/// `already_party`; a resident of another community is 422 `not_found` on
/// `user_id`); the dispute then shows in that resident's lists. At most 30
/// parties.
#[utoipa::path(
    tag = "mediation",
    params(("id" = i64, Path, description = "Dispute (ticket) id")),
    request_body = AddPartyDoc,
    responses(
        (status = 201, description = "The party as added.", body = PartyResponse,
            headers(("Location" = String, description = "URL of the dispute's parties"))),
        (status = 400, response = BadRequest),
        (status = 401, response = Unauthorized),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 422, response = ValidationFailed),
    ),
    security(("bearer" = [])),
    extensions(
        ("x-problem-codes" = json!({"409": ["ticket_not_open", "already_party", "too_many_parties"]})),
        ("x-field-codes" = json!({"user_id": ["account_or_name", "not_found"], "name": TEXT_CODES, "phone": ["invalid_phone"]}))
    )
)]
#[post("/disputes/{id}/parties")]
pub(super) async fn add_party(
    state: web::Data<AppState>,
    auth: Auth,
    id: web::Path<i64>,
    body: JsonBody<AddParty>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = body.0;
    let mut v = Validator::default();
    let party = parse_party(
        &mut v,
        "",
        &PartyInput {
            user_id: input.user_id,
            name: input.name.as_deref(),
            phone: input.phone.as_deref(),
        },
    );
    v.finish()?;
    let party = party.ok_or_else(|| ApiError::internal("validated party missing"))?;
    let role = input.role;
    let now = state.clock.now_naive();
    let caller = auth.caller;
    let added = state
        .db
        .write(move |conn| {
            service::add_party(conn, &caller, id, role, &party, now)?;
            // The new party is the last one added.
            let d = service::readable_dispute(conn, &caller, id)?;
            let hidden = d.context.hidden_reporter(&caller, &d.ticket)?;
            d.context
                .party_responses(&caller, &d.ticket, hidden)
                .pop()
                .ok_or(ApiError::Internal)
        })
        .await?;
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/api/v1/disputes/{id}/parties")))
        .json(added))
}
