//! Parcels booked with couriers.

use haat_domain::checkout::shipments::{Booking, Courier, Parcel};
use haat_domain::integrations::providers::{IssuedToken, pathao, redx, steadfast};

use crate::{CallError, Connectors, call};

impl Connectors {
    /// Books `parcel` with its courier. One call: the job that asks
    /// retries a try that failed, with backoff.
    pub async fn book(&self, parcel: &Parcel) -> Result<Booking, CallError> {
        match parcel.courier {
            Courier::Steadfast => self.steadfast(parcel).await,
            Courier::Pathao => self.pathao(parcel).await,
            Courier::Redx => self.redx(parcel).await,
        }
    }

    async fn steadfast(&self, parcel: &Parcel) -> Result<Booking, CallError> {
        let cfg = &self.cfg;
        let request = self
            .http
            .post(format!("{}{}", cfg.steadfast_base_url, steadfast::CREATE_PATH))
            .header("Api-Key", cfg.steadfast_api_key.clone())
            .header("Secret-Key", cfg.steadfast_secret_key.clone())
            .json(&steadfast::create_order_body(parcel));
        Ok(steadfast::parse_created(&call(request, "Steadfast create_order").await?)?)
    }

    async fn pathao(&self, parcel: &Parcel) -> Result<Booking, CallError> {
        let token = self.pathao_token.current("pathao", |refresh| self.pathao_token_answer(refresh)).await?;
        let cfg = &self.cfg;
        let request = self
            .http
            .post(format!("{}{}", cfg.pathao_base_url, pathao::ORDERS_PATH))
            .bearer_auth(token)
            .json(&pathao::order_body(parcel, &cfg.pathao_store_id));
        Ok(pathao::parse_order(&call(request, "Pathao orders").await?)?)
    }

    /// `issue-token` with the password grant, or the refresh grant.
    async fn pathao_token_answer(&self, refresh_token: Option<String>) -> Result<IssuedToken, CallError> {
        let cfg = &self.cfg;
        let credentials = pathao::Credentials {
            client_id: &cfg.pathao_client_id,
            client_secret: &cfg.pathao_client_secret,
            username: &cfg.pathao_username,
            password: &cfg.pathao_password,
        };
        let request = self
            .http
            .post(format!("{}{}", cfg.pathao_base_url, pathao::TOKEN_PATH))
            .json(&pathao::token_body(credentials, refresh_token.as_deref()));
        Ok(pathao::parse_token(&call(request, "Pathao issue-token").await?, chrono::Utc::now())?)
    }

    async fn redx(&self, parcel: &Parcel) -> Result<Booking, CallError> {
        let cfg = &self.cfg;
        let token = format!("Bearer {}", cfg.redx_api_token);
        let areas = self
            .http
            .get(format!("{}{}", cfg.redx_base_url, redx::AREAS_PATH))
            .query(&[("post_code", parcel.postcode.as_str())])
            .header("API-ACCESS-TOKEN", token.clone());
        let Some(area) = redx::parse_areas(&call(areas, "RedX areas").await?) else {
            return Err(CallError::Refused(format!("RedX has no delivery area for postcode {:?}", parcel.postcode)));
        };
        let request = self
            .http
            .post(format!("{}{}", cfg.redx_base_url, redx::PARCEL_PATH))
            .header("API-ACCESS-TOKEN", token)
            .json(&redx::parcel_body(parcel, &area));
        Ok(redx::parse_parcel(&call(request, "RedX parcel").await?)?)
    }
}
