// One schema for both backends: only types that work through the MultiConnection
// (see DbConn). Timestamps are `Timestamp` holding UTC; JSON is `Text`.

diesel::table! {
    customers (id) {
        id -> BigInt,
        kind -> Text,
        first_name -> Nullable<Text>,
        last_name -> Nullable<Text>,
        company_name -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        birthday -> Nullable<Date>,
        gender -> Nullable<Text>,
        address_line1 -> Nullable<Text>,
        address_line2 -> Nullable<Text>,
        city -> Nullable<Text>,
        region -> Nullable<Text>,
        postal_code -> Nullable<Text>,
        country -> Nullable<Text>,
        preferred_language -> Nullable<Text>,
        source -> Text,
        attributes -> Text,
        notes -> Nullable<Text>,
        name_key -> Nullable<Text>,
        company_key -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        erased_at -> Nullable<Timestamp>,
        company_id -> Nullable<BigInt>,
        company_role -> Nullable<Text>,
    }
}

diesel::table! {
    company_details (customer_id) {
        customer_id -> BigInt,
        founded_on -> Nullable<Date>,
        industry -> Nullable<Text>,
        employees -> Nullable<BigInt>,
        website -> Nullable<Text>,
        registration_number -> Nullable<Text>,
        vat_number -> Nullable<Text>,
        rating -> Nullable<BigInt>,
        particularities -> Nullable<Text>,
    }
}

diesel::table! {
    customer_tags (customer_id, tag) {
        customer_id -> BigInt,
        tag -> Text,
    }
}

diesel::table! {
    customer_search_terms (term, customer_id) {
        term -> Text,
        customer_id -> BigInt,
    }
}

diesel::table! {
    customer_merges (id) {
        id -> BigInt,
        survivor_id -> BigInt,
        duplicate_id -> BigInt,
        merged_by -> Text,
        merged_at -> Timestamp,
        duplicate_snapshot -> Text,
    }
}

diesel::joinable!(customer_tags -> customers (customer_id));
diesel::joinable!(customer_search_terms -> customers (customer_id));

diesel::table! {
    consent_events (id) {
        id -> BigInt,
        customer_id -> BigInt,
        channel -> Text,
        state -> Text,
        opt_in_level -> Text,
        source -> Text,
        method_detail -> Nullable<Text>,
        consent_text -> Nullable<Text>,
        consent_text_version -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        occurred_at -> Timestamp,
        recorded_at -> Timestamp,
        actor -> Text,
    }
}

diesel::table! {
    customer_consents (customer_id, channel) {
        customer_id -> BigInt,
        channel -> Text,
        state -> Text,
        opt_in_level -> Text,
        source -> Text,
        event_id -> BigInt,
        occurred_at -> Timestamp,
    }
}

diesel::table! {
    messages (id) {
        id -> BigInt,
        customer_id -> Nullable<BigInt>,
        kind -> Text,
        recipient -> Text,
        subject -> Text,
        body -> Text,
        status -> Text,
        attempts -> Integer,
        last_error -> Nullable<Text>,
        next_attempt_at -> Timestamp,
        created_at -> Timestamp,
        sent_at -> Nullable<Timestamp>,
        campaign_id -> Nullable<BigInt>,
        list_unsubscribe -> Nullable<Text>,
        html_body -> Nullable<Text>,
    }
}

diesel::table! {
    enquiries (id) {
        id -> BigInt,
        customer_id -> Nullable<BigInt>,
        kind -> Text,
        status -> Text,
        email -> Nullable<Text>,
        subject -> Nullable<Text>,
        message -> Nullable<Text>,
        assignee -> Nullable<Text>,
        note -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        channel -> Text,
        occurred_at -> Timestamp,
        follow_up_at -> Nullable<Timestamp>,
        follow_up_due_at -> Nullable<Timestamp>,
        tags -> Text,
        resolved_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    confirmation_tokens (token_hash) {
        token_hash -> Text,
        customer_id -> BigInt,
        channels -> Text,
        consent_text -> Nullable<Text>,
        source -> Text,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    unsubscribe_tokens (token_hash) {
        token_hash -> Text,
        customer_id -> BigInt,
        channel -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    suppressions (hash) {
        hash -> Text,
        kind -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    erasures (id) {
        id -> BigInt,
        customer_id -> BigInt,
        erased_by -> Text,
        erased_at -> Timestamp,
    }
}

diesel::table! {
    import_jobs (id) {
        id -> BigInt,
        mode -> Text,
        status -> Text,
        csv -> Text,
        next_row -> BigInt,
        rows_total -> BigInt,
        created -> BigInt,
        updated -> BigInt,
        unchanged -> BigInt,
        rejected -> BigInt,
        errors -> Text,
        failure -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    products (id) {
        id -> BigInt,
        sku -> Text,
        name -> Text,
        product_type -> Text,
        category -> Nullable<Text>,
        attributes -> Text,
        price -> BigInt,
        currency -> Text,
        track_inventory -> Bool,
        stock_quantity -> BigInt,
        low_stock_threshold -> Nullable<BigInt>,
        active -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    stock_movements (id) {
        id -> BigInt,
        product_id -> BigInt,
        delta -> BigInt,
        reason -> Text,
        note -> Nullable<Text>,
        order_id -> Nullable<BigInt>,
        quantity_after -> BigInt,
        actor -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    promo_codes (id) {
        id -> BigInt,
        code -> Text,
        description -> Nullable<Text>,
        discount_type -> Text,
        discount_value -> BigInt,
        currency -> Nullable<Text>,
        valid_from -> Nullable<Timestamp>,
        valid_until -> Nullable<Timestamp>,
        max_redemptions -> Nullable<BigInt>,
        max_redemptions_per_customer -> Nullable<BigInt>,
        min_subtotal -> Nullable<BigInt>,
        campaign_id -> Nullable<BigInt>,
        active -> Bool,
        redemptions -> BigInt,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        cost_currency -> Nullable<Text>,
        cost_fixed_minor -> Nullable<BigInt>,
        cost_per_redemption_minor -> Nullable<BigInt>,
    }
}

diesel::table! {
    orders (id) {
        id -> BigInt,
        external_id -> Nullable<Text>,
        customer_id -> BigInt,
        status -> Text,
        channel -> Text,
        source_detail -> Nullable<Text>,
        placed_at -> Timestamp,
        currency -> Text,
        subtotal -> BigInt,
        discount_total -> BigInt,
        shipping_total -> BigInt,
        tax_total -> BigInt,
        total -> BigInt,
        refunded_total -> BigInt,
        promo_code -> Nullable<Text>,
        promo_code_id -> Nullable<BigInt>,
        promo_code_status -> Nullable<Text>,
        referral_code -> Nullable<Text>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    order_lines (id) {
        id -> BigInt,
        order_id -> BigInt,
        product_id -> Nullable<BigInt>,
        sku -> Text,
        name -> Text,
        product_type -> Nullable<Text>,
        attributes -> Text,
        quantity -> BigInt,
        unit_price -> BigInt,
        refunded_quantity -> BigInt,
    }
}

diesel::table! {
    promo_redemptions (id) {
        id -> BigInt,
        promo_code_id -> BigInt,
        order_id -> BigInt,
        customer_id -> BigInt,
        discount_amount -> BigInt,
        created_at -> Timestamp,
    }
}

diesel::table! {
    refunds (id) {
        id -> BigInt,
        order_id -> BigInt,
        amount -> BigInt,
        reason -> Text,
        lines -> Text,
        created_by -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    customer_order_stats (customer_id, currency) {
        customer_id -> BigInt,
        currency -> Text,
        orders_count -> BigInt,
        total_spent -> BigInt,
        first_order_at -> Timestamp,
        last_order_at -> Timestamp,
    }
}

diesel::table! {
    customer_order_totals (customer_id) {
        customer_id -> BigInt,
        orders_count -> BigInt,
        total_spent -> BigInt,
        first_order_at -> Timestamp,
        last_order_at -> Timestamp,
    }
}

diesel::table! {
    idempotency_keys (actor, idempotency_key) {
        actor -> Text,
        idempotency_key -> Text,
        request_hash -> Text,
        status -> Text,
        response_status -> Nullable<Integer>,
        response_body -> Nullable<Text>,
        response_location -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    import_files (job_id) {
        job_id -> BigInt,
        csv -> Text,
    }
}

diesel::table! {
    segments (id) {
        id -> BigInt,
        name -> Text,
        description -> Nullable<Text>,
        rules -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    campaigns (id) {
        id -> BigInt,
        name -> Text,
        channel -> Text,
        segment_id -> Nullable<BigInt>,
        rules -> Nullable<Text>,
        offer -> Nullable<Text>,
        subject -> Nullable<Text>,
        content -> Nullable<Text>,
        promo_kind -> Text,
        promo_code_id -> Nullable<BigInt>,
        unique_prefix -> Nullable<Text>,
        unique_discount_type -> Nullable<Text>,
        unique_discount_value -> Nullable<BigInt>,
        unique_currency -> Nullable<Text>,
        cap_max_contacts -> BigInt,
        cap_per_days -> BigInt,
        exclude_campaign_ids -> Text,
        holdout_percent -> BigInt,
        attribution_window_days -> BigInt,
        status -> Text,
        audience -> Nullable<Text>,
        launched_at -> Nullable<Timestamp>,
        send_requested_at -> Nullable<Timestamp>,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        content_html -> Nullable<Text>,
        cost_currency -> Nullable<Text>,
        cost_fixed_minor -> Nullable<BigInt>,
        cost_per_contact_minor -> Nullable<BigInt>,
    }
}

diesel::table! {
    campaign_contacts (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        customer_id -> BigInt,
        holdout -> Bool,
        token -> Nullable<Text>,
        promo_code -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    campaign_responses (id) {
        id -> BigInt,
        campaign_id -> BigInt,
        contact_id -> BigInt,
        customer_id -> BigInt,
        kind -> Text,
        occurred_at -> Timestamp,
        recorded_at -> Timestamp,
        actor -> Text,
    }
}

diesel::table! {
    referral_codes (customer_id) {
        customer_id -> BigInt,
        code -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    referrals (referred_id) {
        referred_id -> BigInt,
        referrer_id -> BigInt,
        order_id -> BigInt,
        code -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    sales_daily (dimension, value, currency, day) {
        dimension -> Text,
        value -> Text,
        currency -> Text,
        day -> Date,
        orders -> BigInt,
        units -> BigInt,
        gross -> BigInt,
        discounts -> BigInt,
        refunds -> BigInt,
        new_customers -> BigInt,
    }
}

diesel::table! {
    sales_customers (dimension, value, granularity, currency, period_start) {
        dimension -> Text,
        value -> Text,
        granularity -> Text,
        currency -> Text,
        period_start -> Date,
        customers -> BigInt,
    }
}

diesel::table! {
    customer_rfm (customer_id) {
        customer_id -> BigInt,
        recency_score -> BigInt,
        frequency_score -> BigInt,
        monetary_score -> BigInt,
        rfm_segment -> Text,
    }
}

diesel::table! {
    rfm_state (id) {
        id -> BigInt,
        fingerprint -> Text,
        computed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    rollup_state (id) {
        id -> BigInt,
        timezone -> Text,
        built_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    campaign_conversions (campaign_id, holdout) {
        campaign_id -> BigInt,
        holdout -> Bool,
        contacts -> BigInt,
    }
}

diesel::table! {
    campaign_orders (campaign_id, currency) {
        campaign_id -> BigInt,
        currency -> Text,
        orders -> BigInt,
        revenue -> BigInt,
        redemptions -> BigInt,
        discount -> BigInt,
    }
}

diesel::table! {
    purchase_days (customer_id, dimension, value, currency, day) {
        customer_id -> BigInt,
        dimension -> Text,
        value -> Text,
        currency -> Text,
        day -> Date,
        previous_day -> Nullable<Date>,
        next_day -> Nullable<Date>,
    }
}

diesel::table! {
    purchase_day_counts (dimension, value, currency, month, previous_month) {
        dimension -> Text,
        value -> Text,
        currency -> Text,
        month -> Date,
        previous_month -> Date,
        days -> BigInt,
    }
}

diesel::table! {
    campaign_responders (campaign_id, kind, contact_id) {
        campaign_id -> BigInt,
        kind -> Text,
        contact_id -> BigInt,
    }
}

diesel::table! {
    campaign_response_counts (campaign_id, kind) {
        campaign_id -> BigInt,
        kind -> Text,
        contacts -> BigInt,
    }
}

diesel::table! {
    server_keys (purpose) {
        purpose -> Text,
        key_hex -> Text,
        created_at -> Timestamp,
    }
}

diesel::joinable!(campaign_contacts -> campaigns (campaign_id));
diesel::joinable!(consent_events -> customers (customer_id));
diesel::joinable!(customer_consents -> customers (customer_id));
diesel::table! {
    background_leases (name) {
        name -> Text,
        owner -> Text,
        lease_until -> Timestamp,
    }
}

diesel::table! {
    prediction_state (id) {
        id -> BigInt,
        fingerprint -> Text,
        model -> Nullable<Text>,
        currency -> Nullable<Text>,
        fitted_at -> Nullable<Timestamp>,
        problem -> Nullable<Text>,
        attempted_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    customer_predictions (customer_id) {
        customer_id -> BigInt,
        currency -> Text,
        probability_alive -> Double,
        expected_orders_90d -> Double,
        expected_orders -> Double,
        horizon_days -> BigInt,
        predicted_clv_12m -> BigInt,
        expected_days_to_next_order -> Nullable<Double>,
        churn_risk -> Text,
        scored_at -> Timestamp,
    }
}

diesel::table! {
    customer_price_bands (customer_id, currency) {
        customer_id -> BigInt,
        currency -> Text,
        low -> BigInt,
        high -> BigInt,
        units -> BigInt,
    }
}

diesel::table! {
    customer_affinities (customer_id, dimension, value) {
        customer_id -> BigInt,
        dimension -> Text,
        value -> Text,
        unit_share -> Double,
        spend_share -> Double,
    }
}

diesel::table! {
    product_associations (product_id, related_id) {
        product_id -> BigInt,
        related_id -> BigInt,
        customers -> BigInt,
        lift -> Double,
        position -> BigInt,
    }
}

diesel::table! {
    product_popularity (product_id) {
        product_id -> BigInt,
        product_type -> Text,
        customers -> BigInt,
        units -> BigInt,
    }
}

diesel::table! {
    recommendation_state (id) {
        id -> BigInt,
        fingerprint -> Text,
        computed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    flows (id) {
        id -> BigInt,
        name -> Text,
        status -> Text,
        trigger_type -> Text,
        version -> Integer,
        template_key -> Nullable<Text>,
        activated_at -> Nullable<Timestamp>,
        last_scan_at -> Nullable<Timestamp>,
        segment_baseline -> Bool,
        created_by -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    flow_versions (flow_id, version) {
        flow_id -> BigInt,
        version -> Integer,
        definition -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    flow_runs (id) {
        id -> BigInt,
        flow_id -> BigInt,
        version -> Integer,
        customer_id -> Nullable<BigInt>,
        enquiry_id -> Nullable<BigInt>,
        holdout -> Bool,
        state -> Text,
        exit_reason -> Nullable<Text>,
        step -> Integer,
        next_at -> Timestamp,
        promo_code -> Nullable<Text>,
        promo_expires_at -> Nullable<Timestamp>,
        last_contact_id -> Nullable<BigInt>,
        entered_at -> Timestamp,
        conversion_until -> Timestamp,
        finished_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    flow_contacts (id) {
        id -> BigInt,
        run_id -> BigInt,
        flow_id -> BigInt,
        customer_id -> Nullable<BigInt>,
        step -> Integer,
        outcome -> Text,
        channel -> Nullable<Text>,
        message_id -> Nullable<BigInt>,
        token -> Nullable<Text>,
        opened_at -> Nullable<Timestamp>,
        clicked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    flow_cursor (id) {
        id -> Integer,
        last_position -> BigInt,
    }
}

diesel::table! {
    flow_segment_members (flow_id, customer_id) {
        flow_id -> BigInt,
        customer_id -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    flows,
    flow_versions,
    flow_runs,
    flow_contacts,
    flow_cursor,
    flow_segment_members,
    customers,
    customer_predictions,
    prediction_state,
    customer_tags,
    customer_search_terms,
    customer_merges,
    consent_events,
    customer_consents,
    messages,
    enquiries,
    confirmation_tokens,
    unsubscribe_tokens,
    suppressions,
    server_keys,
    erasures,
    import_jobs,
    import_files,
    products,
    stock_movements,
    promo_codes,
    orders,
    order_lines,
    promo_redemptions,
    refunds,
    customer_order_stats,
    customer_order_totals,
    idempotency_keys,
    segments,
    campaigns,
    campaign_contacts,
    campaign_responses,
    referral_codes,
    referrals,
    sales_daily,
    sales_customers,
    rollup_state,
    campaign_conversions,
    campaign_orders,
    purchase_days,
    purchase_day_counts,
    campaign_responders,
    campaign_response_counts,
    customer_rfm,
    rfm_state,
    customer_price_bands,
    customer_affinities,
    product_associations,
    product_popularity,
    recommendation_state,
);

diesel::table! {
    events (id) {
        id -> BigInt,
        position -> Nullable<BigInt>,
        event_type -> Text,
        customer_id -> Nullable<BigInt>,
        endpoint_id -> Nullable<BigInt>,
        api_version -> Text,
        data -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    webhook_endpoints (id) {
        id -> BigInt,
        url -> Text,
        description -> Text,
        event_types -> Text,
        secret -> Text,
        previous_secret -> Nullable<Text>,
        previous_secret_until -> Nullable<Timestamp>,
        status -> Text,
        disabled_reason -> Nullable<Text>,
        failing_since -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    webhook_deliveries (id) {
        id -> BigInt,
        endpoint_id -> BigInt,
        event_id -> BigInt,
        event_position -> BigInt,
        customer_id -> Nullable<BigInt>,
        status -> Text,
        attempts -> Integer,
        next_attempt_at -> Timestamp,
        lease_until -> Nullable<Timestamp>,
        last_attempt_at -> Nullable<Timestamp>,
        last_response_status -> Nullable<Integer>,
        last_latency_ms -> Nullable<BigInt>,
        last_error -> Nullable<Text>,
        created_at -> Timestamp,
        delivered_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(webhook_deliveries -> webhook_endpoints (endpoint_id));
diesel::joinable!(webhook_deliveries -> events (event_id));
diesel::allow_tables_to_appear_in_same_query!(events, webhook_endpoints, webhook_deliveries);

diesel::table! {
    event_sequence (id) {
        id -> Integer,
        last_position -> BigInt,
    }
}

diesel::table! {
    form_definitions (id) {
        id -> BigInt,
        form_key -> Text,
        title -> Text,
        purpose -> Text,
        fields -> Text,
        consent_texts -> Text,
        reward -> Nullable<Text>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
    }
}

diesel::table! {
    form_links (token_hash) {
        token_hash -> Text,
        form_id -> BigInt,
        customer_id -> BigInt,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        opened_at -> Nullable<Timestamp>,
        used_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    form_submissions (id) {
        id -> BigInt,
        form_id -> BigInt,
        customer_id -> Nullable<BigInt>,
        status -> Text,
        via_link -> Bool,
        answers -> Text,
        enquiry_id -> Nullable<BigInt>,
        reward_type -> Nullable<Text>,
        reward_promo_code_id -> Nullable<BigInt>,
        reward_status -> Nullable<Text>,
        ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        answered_at -> Timestamp,
        created_at -> Timestamp,
    }
}

diesel::table! {
    attribute_history (id) {
        id -> BigInt,
        customer_id -> BigInt,
        field -> Text,
        value -> Nullable<Text>,
        source -> Text,
        source_ref -> Nullable<Text>,
        actor -> Nullable<Text>,
        applied -> Bool,
        observed_at -> Timestamp,
        recorded_at -> Timestamp,
    }
}

diesel::joinable!(form_links -> form_definitions (form_id));
diesel::joinable!(form_submissions -> form_definitions (form_id));
diesel::allow_tables_to_appear_in_same_query!(form_definitions, form_links, form_submissions, promo_codes);
