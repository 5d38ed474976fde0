//! Wire types of recommendations.
