use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{promo_codes, promo_redemptions};
use crate::domain::promo::PromoRules;

/// Also the whole row the seed writes, id included.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = promo_codes, treat_none_as_default_value = false)]
pub struct PromoCodeRow {
    pub id: i64,
    pub code: String,
    pub description: Option<String>,
    pub discount_type: String,
    pub discount_value: i64,
    pub currency: Option<String>,
    pub valid_from: Option<NaiveDateTime>,
    pub valid_until: Option<NaiveDateTime>,
    pub max_redemptions: Option<i64>,
    pub max_redemptions_per_customer: Option<i64>,
    pub min_subtotal: Option<i64>,
    pub campaign_id: Option<i64>,
    pub active: bool,
    pub redemptions: i64,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub cost_currency: Option<String>,
    pub cost_fixed_minor: Option<i64>,
    pub cost_per_redemption_minor: Option<i64>,
}

impl PromoCodeRow {
    pub fn rules(&self) -> PromoRules {
        PromoRules {
            discount_type: self.discount_type.clone(),
            discount_value: self.discount_value,
            currency: self.currency.clone(),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            max_redemptions: self.max_redemptions,
            max_redemptions_per_customer: self.max_redemptions_per_customer,
            min_subtotal: self.min_subtotal,
            active: self.active,
            redemptions: self.redemptions,
        }
    }

    pub fn columns(&self) -> PromoCodeColumns {
        PromoCodeColumns {
            description: self.description.clone(),
            discount_type: self.discount_type.clone(),
            discount_value: self.discount_value,
            currency: self.currency.clone(),
            valid_from: self.valid_from,
            valid_until: self.valid_until,
            max_redemptions: self.max_redemptions,
            max_redemptions_per_customer: self.max_redemptions_per_customer,
            min_subtotal: self.min_subtotal,
            campaign_id: self.campaign_id,
            active: self.active,
            updated_at: self.updated_at,
            cost_currency: self.cost_currency.clone(),
            cost_fixed_minor: self.cost_fixed_minor,
            cost_per_redemption_minor: self.cost_per_redemption_minor,
        }
    }

    /// What the code costs, when given.
    pub fn cost(&self) -> Option<crate::domain::costs::RedemptionCost> {
        Some(crate::domain::costs::RedemptionCost {
            currency: self.cost_currency.clone()?,
            fixed_minor: self.cost_fixed_minor.unwrap_or(0),
            per_redemption_minor: self.cost_per_redemption_minor.unwrap_or(0),
        })
    }
}

/// The editable columns of a code.
#[derive(Debug, Clone, Insertable, AsChangeset)]
#[diesel(table_name = promo_codes, treat_none_as_null = true)]
pub struct PromoCodeColumns {
    pub description: Option<String>,
    pub discount_type: String,
    pub discount_value: i64,
    pub currency: Option<String>,
    pub valid_from: Option<NaiveDateTime>,
    pub valid_until: Option<NaiveDateTime>,
    pub max_redemptions: Option<i64>,
    pub max_redemptions_per_customer: Option<i64>,
    pub min_subtotal: Option<i64>,
    pub campaign_id: Option<i64>,
    pub active: bool,
    pub updated_at: NaiveDateTime,
    pub cost_currency: Option<String>,
    pub cost_fixed_minor: Option<i64>,
    pub cost_per_redemption_minor: Option<i64>,
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = promo_codes)]
pub struct NewPromoCode {
    pub code: String,
    #[diesel(embed)]
    pub columns: PromoCodeColumns,
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = promo_redemptions)]
pub struct RedemptionRow {
    #[diesel(skip_insertion)]
    pub id: i64,
    pub promo_code_id: i64,
    pub order_id: i64,
    pub customer_id: i64,
    pub discount_amount: i64,
    pub created_at: NaiveDateTime,
}

/// A redemption written with its id, as the seed numbers its rows (`RedemptionRow`
/// leaves the id to the database).
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = promo_redemptions, treat_none_as_default_value = false)]
pub struct RedemptionWithId {
    pub id: i64,
    pub promo_code_id: i64,
    pub order_id: i64,
    pub customer_id: i64,
    pub discount_amount: i64,
    pub created_at: NaiveDateTime,
}
