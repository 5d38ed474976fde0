//! The fixed part of the demo dataset: names and places per country, the product
//! catalogue, promo codes, saved segments and campaigns. Dates are absolute, inside the
//! three years that end at the anchor (2026-11-01).

use chrono::{NaiveDate, NaiveDateTime};

pub fn at(year: i32, month: u32, day: u32, hour: u32, minute: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(year, month, day)
        .and_then(|date| date.and_hms_opt(hour, minute, 0))
        .expect("catalogue dates are valid")
}

/// The end of the generated history: every timestamp is before it.
pub fn anchor() -> NaiveDateTime {
    at(2026, 11, 1, 0, 0)
}

/// Days of history before the anchor (2023-11-01 .. 2026-10-31).
pub const HISTORY_DAYS: i64 = 1096;

/// Names by language.
pub struct Names {
    pub female: &'static [&'static str],
    pub male: &'static [&'static str],
    pub last: &'static [&'static str],
}

#[rustfmt::skip]
pub const FRENCH: Names = Names {
    female: &[
        "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Sarah", "Julie", "Zoé", "Hélène", "Claire", "Élodie",
        "Margaux", "Pauline", "Lucie", "Anaïs", "Mathilde", "Juliette", "Céline", "Nathalie", "Sophie", "Amélie",
        "Océane", "Louise", "Agathe", "Justine", "Morgane", "Laure", "Valérie", "Isabelle",
    ],
    male: &[
        "Lucas", "Hugo", "Louis", "Gabriel", "Thomas", "Nicolas", "Julien", "Antoine", "Maxime", "Jérôme", "Pierre",
        "Mathieu", "Guillaume", "Théo", "Olivier", "Sébastien", "Arnaud", "Benoît", "Romain", "Clément",
    ],
    last: &[
        "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau", "Simon",
        "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux", "Vincent", "Fournier", "Morel",
        "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet", "François", "Martinez", "Legrand", "Garnier",
        "Faure", "Rousseau", "Blanc", "Guérin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin", "Morin",
        "Mathieu", "Clément", "Gauthier", "Dumont", "Lopez", "Fontaine", "Chevalier", "Robin", "Masson",
        "D'Almeida", "Le Gall", "Brunet", "Boyer", "Dupuis", "Lemaire", "Marchand", "Barbier", "Colin", "Renaud",
    ],
};

#[rustfmt::skip]
pub const GERMAN: Names = Names {
    female: &[
        "Anna", "Lena", "Laura", "Julia", "Lea", "Sophie", "Marie", "Hannah", "Katharina", "Sarah", "Johanna",
        "Jana", "Lisa", "Franziska", "Sabine", "Claudia", "Nicole", "Jülide", "Charlotte", "Greta", "Mia", "Emilia",
    ],
    male: &[
        "Lukas", "Jonas", "Leon", "Finn", "Paul", "Felix", "Maximilian", "Jan", "Tobias", "Florian", "Stefan",
        "Andreas", "Michael", "Jürgen", "Matthias", "Sebastian", "Niklas", "Moritz",
    ],
    last: &[
        "Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
        "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
        "Braun", "Krüger", "Hofmann", "Hartmann", "Lange", "Schmitt", "Werner", "Schmitz", "Krause", "Meier",
        "Lehmann", "Schmid", "Schulze", "Maier", "Köhler", "Herrmann", "König", "Walter", "Mayer", "Huber",
    ],
};

#[rustfmt::skip]
pub const DUTCH: Names = Names {
    female: &[
        "Emma", "Julia", "Sophie", "Tess", "Anna", "Fleur", "Sanne", "Lotte", "Eva", "Iris", "Femke", "Lieke",
        "Noor", "Marieke", "Annelies", "Els",
    ],
    male: &[
        "Daan", "Sem", "Lucas", "Bram", "Thijs", "Jesse", "Ruben", "Lars", "Pieter", "Joost", "Wouter", "Bas",
        "Sander", "Koen",
    ],
    last: &[
        "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser", "Smit",
        "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker",
        "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf", "van der Meer", "Peeters", "Maes", "Claes", "Willems",
        "Wouters",
    ],
};

#[rustfmt::skip]
pub const SPANISH: Names = Names {
    female: &[
        "Lucía", "María", "Paula", "Martina", "Sofía", "Carmen", "Laura", "Elena", "Ana", "Marta", "Alba", "Noelia",
        "Cristina", "Irene", "Nuria", "Pilar",
    ],
    male: &[
        "Hugo", "Daniel", "Pablo", "Alejandro", "Javier", "Carlos", "David", "Sergio", "Álvaro", "Jorge", "Adrián",
        "Iván", "Raúl", "Andrés",
    ],
    last: &[
        "García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Martín",
        "Jiménez", "Ruiz", "Hernández", "Díaz", "Moreno", "Muñoz", "Álvarez", "Romero", "Alonso", "Gutiérrez",
        "Navarro", "Torres", "Domínguez", "Vázquez", "Ramos", "Gil", "Ramírez", "Serrano", "Blanco", "Molina",
    ],
};

#[rustfmt::skip]
pub const ITALIAN: Names = Names {
    female: &[
        "Giulia", "Sofia", "Aurora", "Alice", "Ginevra", "Emma", "Giorgia", "Beatrice", "Chiara", "Francesca",
        "Martina", "Valentina", "Elisa", "Federica", "Silvia", "Alessia",
    ],
    male: &[
        "Leonardo", "Francesco", "Alessandro", "Lorenzo", "Mattia", "Andrea", "Marco", "Luca", "Giuseppe", "Matteo",
        "Davide", "Niccolò", "Stefano", "Riccardo",
    ],
    last: &[
        "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
        "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti",
        "Barbieri", "Fontana", "Santoro", "Mariani", "Rinaldi", "Caruso", "Ferrara", "Galli", "Martini", "Leone",
    ],
};

#[rustfmt::skip]
pub const ENGLISH: Names = Names {
    female: &[
        "Olivia", "Amelia", "Isla", "Ava", "Emily", "Sophia", "Grace", "Lily", "Chloe", "Jessica", "Hannah",
        "Charlotte", "Emma", "Madison", "Abigail", "Harper", "Ella", "Megan", "Lauren", "Rachel", "Zoë", "Siobhán",
    ],
    male: &[
        "Oliver", "George", "Harry", "Jack", "Noah", "James", "William", "Thomas", "Daniel", "Michael", "Ethan",
        "Liam", "Benjamin", "Samuel", "Matthew", "Ryan", "Sean", "Connor",
    ],
    last: &[
        "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas", "Johnson",
        "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green", "Hall",
        "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper", "Hill", "Ward",
        "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "O'Brien", "Murphy", "Miller", "Davis",
        "Garcia", "Anderson", "Martinez", "Nguyen", "Kim", "Campbell",
    ],
};

/// A city with its region, postal codes (`#` is a random digit) and language(s).
pub struct City {
    pub name: &'static str,
    pub region: &'static str,
    pub postal_codes: &'static [&'static str],
    /// Preferred language of most of its customers.
    pub language: &'static str,
    pub weight: u64,
}

pub struct Country {
    pub code: &'static str,
    pub currency: &'static str,
    pub weight: u64,
    pub cities: &'static [City],
    pub names: &'static Names,
    /// `{n}` is the house number, `{s}` the street.
    pub address_format: &'static str,
    pub streets: &'static [&'static str],
    /// E.164 mobile prefixes and how many random digits follow each: ranges in which
    /// every number is valid (a unit test checks samples with `Phone::parse`).
    pub mobiles: &'static [(&'static str, u32)],
    /// Shops of the brand in this country (store channel).
    pub stores: &'static [&'static str],
    pub email_domains: &'static [&'static str],
}

const FR_STREETS: &[&str] = &[
    "rue de la République",
    "avenue Victor Hugo",
    "boulevard Voltaire",
    "rue des Lilas",
    "place du Marché",
    "rue Pasteur",
    "rue du Moulin",
    "avenue Jean Jaurès",
    "rue de la Paix",
    "chemin des Vignes",
    "rue Nationale",
    "allée des Tilleuls",
];
const DE_STREETS: &[&str] = &[
    "Hauptstraße",
    "Bahnhofstraße",
    "Gartenweg",
    "Schillerstraße",
    "Goethestraße",
    "Lindenallee",
    "Bergstraße",
    "Kirchplatz",
    "Mühlenweg",
    "Am Markt",
];
const NL_STREETS: &[&str] =
    &["Kerkstraat", "Dorpsstraat", "Molenweg", "Stationsweg", "Lindenlaan", "Prinsengracht", "Markt", "Beukenlaan"];
const BE_STREETS: &[&str] = &[
    "rue Royale",
    "avenue Louise",
    "chaussée de Wavre",
    "Meir",
    "Veldstraat",
    "rue Neuve",
    "Grote Markt",
    "rue du Midi",
];
const ES_STREETS: &[&str] = &[
    "Calle Mayor",
    "Avenida de la Constitución",
    "Calle del Sol",
    "Paseo de Gracia",
    "Calle de Alcalá",
    "Plaza de España",
    "Calle Real",
    "Calle de la Luna",
];
const IT_STREETS: &[&str] =
    &["Via Roma", "Corso Italia", "Via Garibaldi", "Via Dante", "Piazza del Duomo", "Via Verdi", "Viale Europa"];
const GB_STREETS: &[&str] = &[
    "High Street",
    "Station Road",
    "Church Lane",
    "Victoria Road",
    "Park Avenue",
    "Mill Lane",
    "King Street",
    "Queen's Road",
];
const US_STREETS: &[&str] =
    &["Main Street", "Oak Avenue", "Maple Drive", "Park Place", "Cedar Lane", "Elm Street", "Washington Avenue"];

const EXAMPLE_DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];

pub const COUNTRIES: &[Country] = &[
    Country {
        code: "FR",
        currency: "EUR",
        weight: 40,
        cities: &[
            City { name: "Paris", region: "Île-de-France", postal_codes: &["750##"], language: "fr", weight: 30 },
            City {
                name: "Lyon", region: "Auvergne-Rhône-Alpes", postal_codes: &["6900#"], language: "fr", weight: 10
            },
            City {
                name: "Marseille",
                region: "Provence-Alpes-Côte d'Azur",
                postal_codes: &["130##"],
                language: "fr",
                weight: 9,
            },
            City {
                name: "Bordeaux",
                region: "Nouvelle-Aquitaine",
                postal_codes: &["33###"],
                language: "fr",
                weight: 7,
            },
            City { name: "Lille", region: "Hauts-de-France", postal_codes: &["59###"], language: "fr", weight: 6 },
            City { name: "Nantes", region: "Pays de la Loire", postal_codes: &["44###"], language: "fr", weight: 6 },
            City { name: "Toulouse", region: "Occitanie", postal_codes: &["31###"], language: "fr", weight: 7 },
            City { name: "Strasbourg", region: "Grand Est", postal_codes: &["67###"], language: "fr", weight: 5 },
            City { name: "Rennes", region: "Bretagne", postal_codes: &["35###"], language: "fr", weight: 4 },
            City {
                name: "Versailles",
                region: "Île-de-France",
                postal_codes: &["78###", "92###"],
                language: "fr",
                weight: 8,
            },
        ],
        names: &FRENCH,
        address_format: "{n} {s}",
        streets: FR_STREETS,
        mobiles: &[("+3361", 7), ("+3362", 7), ("+3364", 7), ("+3366", 7), ("+3367", 7), ("+3375", 7), ("+3378", 7)],
        stores: &["Paris Marais", "Paris Saint-Germain", "Lyon Presqu'île", "Bordeaux Chartrons"],
        email_domains: EXAMPLE_DOMAINS,
    },
    Country {
        code: "DE",
        currency: "EUR",
        weight: 15,
        cities: &[
            City { name: "Berlin", region: "Berlin", postal_codes: &["10###", "12###"], language: "de", weight: 10 },
            City { name: "Hamburg", region: "Hamburg", postal_codes: &["20###", "22###"], language: "de", weight: 6 },
            City { name: "München", region: "Bayern", postal_codes: &["80###", "81###"], language: "de", weight: 6 },
            City { name: "Köln", region: "Nordrhein-Westfalen", postal_codes: &["50###"], language: "de", weight: 4 },
            City { name: "Frankfurt am Main", region: "Hessen", postal_codes: &["60###"], language: "de", weight: 3 },
        ],
        names: &GERMAN,
        address_format: "{s} {n}",
        streets: DE_STREETS,
        mobiles: &[("+49151", 8), ("+49160", 7), ("+49170", 7), ("+49176", 8)],
        stores: &["Berlin Mitte"],
        email_domains: EXAMPLE_DOMAINS,
    },
    Country {
        code: "BE",
        currency: "EUR",
        weight: 8,
        cities: &[
            City {
                name: "Bruxelles",
                region: "Bruxelles-Capitale",
                postal_codes: &["10#0", "1050"],
                language: "fr",
                weight: 8,
            },
            City { name: "Liège", region: "Wallonie", postal_codes: &["40#0"], language: "fr", weight: 3 },
            City { name: "Antwerpen", region: "Vlaanderen", postal_codes: &["20#0"], language: "nl", weight: 5 },
            City { name: "Gent", region: "Vlaanderen", postal_codes: &["90#0"], language: "nl", weight: 4 },
        ],
        names: &FRENCH,
        address_format: "{s} {n}",
        streets: BE_STREETS,
        mobiles: &[("+3247", 7), ("+32483", 6), ("+3249", 7)],
        stores: &["Bruxelles Sablon"],
        email_domains: EXAMPLE_DOMAINS,
    },
    Country {
        code: "ES",
        currency: "EUR",
        weight: 8,
        cities: &[
            City { name: "Madrid", region: "Comunidad de Madrid", postal_codes: &["280##"], language: "es", weight: 8 },
            City { name: "Barcelona", region: "Cataluña", postal_codes: &["080##"], language: "es", weight: 7 },
            City {
                name: "Valencia",
                region: "Comunidad Valenciana",
                postal_codes: &["460##"],
                language: "es",
                weight: 3,
            },
            City { name: "Sevilla", region: "Andalucía", postal_codes: &["410##"], language: "es", weight: 3 },
        ],
        names: &SPANISH,
        address_format: "{s}, {n}",
        streets: ES_STREETS,
        mobiles: &[("+346", 8)],
        stores: &[],
        email_domains: EXAMPLE_DOMAINS,
    },
    Country {
        code: "IT",
        currency: "EUR",
        weight: 7,
        cities: &[
            City { name: "Roma", region: "Lazio", postal_codes: &["001##"], language: "it", weight: 7 },
            City { name: "Milano", region: "Lombardia", postal_codes: &["201##"], language: "it", weight: 8 },
            City { name: "Torino", region: "Piemonte", postal_codes: &["101##"], language: "it", weight: 3 },
            City { name: "Firenze", region: "Toscana", postal_codes: &["501##"], language: "it", weight: 3 },
        ],
        names: &ITALIAN,
        address_format: "{s} {n}",
        streets: IT_STREETS,
        mobiles: &[("+39320", 7), ("+39333", 7), ("+39347", 7), ("+39380", 7)],
        stores: &[],
        email_domains: EXAMPLE_DOMAINS,
    },
    Country {
        code: "NL",
        currency: "EUR",
        weight: 6,
        cities: &[
            City {
                name: "Amsterdam",
                region: "Noord-Holland",
                postal_codes: &["10## AB", "10## KL"],
                language: "nl",
                weight: 8,
            },
            City { name: "Rotterdam", region: "Zuid-Holland", postal_codes: &["30## AD"], language: "nl", weight: 5 },
            City { name: "Utrecht", region: "Utrecht", postal_codes: &["35## LN"], language: "nl", weight: 4 },
        ],
        names: &DUTCH,
        address_format: "{s} {n}",
        streets: NL_STREETS,
        mobiles: &[("+3162", 7), ("+3163", 7), ("+3164", 7), ("+3165", 7)],
        stores: &[],
        email_domains: EXAMPLE_DOMAINS,
    },
    Country {
        code: "GB",
        currency: "GBP",
        weight: 10,
        cities: &[
            City {
                name: "London",
                region: "England",
                postal_codes: &["N1 #AB", "SE1 #PB", "E2 #AA", "SW4 #DE"],
                language: "en",
                weight: 12,
            },
            City {
                name: "Manchester",
                region: "England",
                postal_codes: &["M1 #AE", "M4 #BT"],
                language: "en",
                weight: 4,
            },
            City {
                name: "Edinburgh",
                region: "Scotland",
                postal_codes: &["EH1 #YZ", "EH3 #QX"],
                language: "en",
                weight: 3,
            },
            City { name: "Bristol", region: "England", postal_codes: &["BS1 #DJ"], language: "en", weight: 3 },
        ],
        names: &ENGLISH,
        address_format: "{n} {s}",
        streets: GB_STREETS,
        mobiles: &[("+44771", 7), ("+44772", 7), ("+44775", 7), ("+44780", 7), ("+44784", 7)],
        stores: &["London Marylebone"],
        email_domains: EXAMPLE_DOMAINS,
    },
    Country {
        code: "US",
        currency: "USD",
        weight: 6,
        cities: &[
            City { name: "New York", region: "NY", postal_codes: &["100##"], language: "en", weight: 8 },
            City { name: "Los Angeles", region: "CA", postal_codes: &["900##"], language: "en", weight: 5 },
            City { name: "Chicago", region: "IL", postal_codes: &["606##"], language: "en", weight: 4 },
            City { name: "Austin", region: "TX", postal_codes: &["787##"], language: "en", weight: 2 },
            City { name: "Seattle", region: "WA", postal_codes: &["981##"], language: "en", weight: 2 },
        ],
        names: &ENGLISH,
        address_format: "{n} {s}",
        streets: US_STREETS,
        mobiles: &[("+1212", 7), ("+1415", 7), ("+1312", 7), ("+1512", 7), ("+1206", 7)],
        stores: &[],
        email_domains: EXAMPLE_DOMAINS,
    },
];

/// One product of the catalogue; prices in EUR cents.
pub struct Product {
    pub sku: &'static str,
    pub name: &'static str,
    pub product_type: &'static str,
    pub category: &'static str,
    pub material: &'static str,
    pub colour: &'static str,
    pub stone: Option<&'static str>,
    pub price: i64,
    /// Sold from this date (a later collection), if not from the start.
    pub launched: Option<(i32, u32, u32)>,
    /// Sold until this date (then inactive), if retired.
    pub retired: Option<(i32, u32, u32)>,
}

/// (material, colour, stone) of a product.
type Look = (&'static str, &'static str, Option<&'static str>);

const fn product(
    sku: &'static str,
    name: &'static str,
    product_type: &'static str,
    category: &'static str,
    (material, colour, stone): Look,
    price: i64,
) -> Product {
    Product { sku, name, product_type, category, material, colour, stone, price, launched: None, retired: None }
}

#[rustfmt::skip]
pub const PRODUCTS: &[Product] = &[
    product("RING-SLV-STACK", "Silver stacking ring", "ring", "everyday", ("silver", "silver", None), 2900),
    product("RING-GLD-SIGNET", "Gold signet ring", "ring", "fine jewellery", ("gold", "yellow gold", None), 18900),
    product("RING-DIA-SOLIT", "Diamond solitaire ring", "ring", "bridal", ("white gold", "white", Some("diamond")), 89000),
    product("RING-RSG-TWIST", "Rose gold twist ring", "ring", "fine jewellery", ("rose gold", "rose", None), 12900),
    product("RING-SLV-OPAL", "Opal cocktail ring", "ring", "everyday", ("silver", "multicolour", Some("opal")), 7900),
    product("RING-GLD-BAND", "Gold wedding band", "ring", "bridal", ("gold", "yellow gold", None), 34900),
    product("RING-TIT-BAND", "Brushed titanium band", "ring", "men", ("titanium", "grey", None), 8900),
    product("RING-SAP-HALO", "Sapphire halo ring", "ring", "bridal", ("white gold", "blue", Some("sapphire")), 64900),
    Product { launched: Some((2026, 9, 15)), ..product("RING-EME-VINT", "Emerald vintage ring", "ring", "autumn 2026", ("gold", "green", Some("emerald")), 42900) },
    product("NECK-SLV-CHAIN", "Silver curb chain", "necklace", "everyday", ("silver", "silver", None), 3900),
    product("NECK-GLD-INIT", "Gold initial pendant", "necklace", "fine jewellery", ("gold", "yellow gold", None), 14900),
    product("NECK-PRL-STRAND", "Pearl strand necklace", "necklace", "fine jewellery", ("silver", "white", Some("pearl")), 24900),
    product("NECK-SLV-LOCKET", "Silver locket", "necklace", "everyday", ("silver", "silver", None), 5900),
    product("NECK-DIA-DROP", "Diamond drop pendant", "necklace", "bridal", ("white gold", "white", Some("diamond")), 49900),
    product("NECK-RSG-HEART", "Rose gold heart pendant", "necklace", "fine jewellery", ("rose gold", "rose", None), 11900),
    product("NECK-LTH-CORD", "Leather cord necklace", "necklace", "men", ("leather", "black", None), 2900),
    Product { retired: Some((2025, 6, 30)), ..product("NECK-GLD-CHOKER", "Gold bar choker", "necklace", "everyday", ("gold plated", "yellow gold", None), 6900) },
    product("EAR-SLV-HOOP", "Silver hoops", "earrings", "everyday", ("silver", "silver", None), 3500),
    product("EAR-GLD-STUD", "Gold stud earrings", "earrings", "fine jewellery", ("gold", "yellow gold", None), 9900),
    product("EAR-PRL-DROP", "Pearl drop earrings", "earrings", "fine jewellery", ("silver", "white", Some("pearl")), 8900),
    product("EAR-DIA-STUD", "Diamond stud earrings", "earrings", "bridal", ("white gold", "white", Some("diamond")), 69900),
    product("EAR-SLV-CUFF", "Silver ear cuff", "earrings", "everyday", ("silver", "silver", None), 2500),
    product("EAR-RSG-HOOP", "Rose gold hoops", "earrings", "fine jewellery", ("rose gold", "rose", None), 13900),
    product("EAR-SAP-DROP", "Sapphire drop earrings", "earrings", "fine jewellery", ("white gold", "blue", Some("sapphire")), 39900),
    Product { launched: Some((2026, 9, 15)), ..product("EAR-EME-STUD", "Emerald studs", "earrings", "autumn 2026", ("gold", "green", Some("emerald")), 29900) },
    product("BRAC-SLV-BANGLE", "Silver bangle", "bracelet", "everyday", ("silver", "silver", None), 4900),
    product("BRAC-GLD-CHAIN", "Gold chain bracelet", "bracelet", "fine jewellery", ("gold", "yellow gold", None), 19900),
    product("BRAC-LTH-WRAP", "Leather wrap bracelet", "bracelet", "men", ("leather", "brown", None), 3900),
    product("BRAC-PRL-STRETCH", "Pearl stretch bracelet", "bracelet", "everyday", ("silver", "white", Some("pearl")), 5900),
    product("BRAC-DIA-TENNIS", "Diamond tennis bracelet", "bracelet", "bridal", ("white gold", "white", Some("diamond")), 129000),
    product("BRAC-SLV-CHARM", "Silver charm bracelet", "bracelet", "everyday", ("silver", "silver", None), 6900),
    product("BRAC-RSG-CUFF", "Rose gold cuff", "bracelet", "fine jewellery", ("rose gold", "rose", None), 15900),
    product("WATCH-STL-AUTO", "Automatic steel watch", "watch", "watches", ("steel", "silver", None), 49900),
    product("WATCH-RSG-MESH", "Rose gold mesh watch", "watch", "watches", ("rose gold plated", "rose", None), 18900),
    product("WATCH-LTH-CLASSIC", "Classic leather watch", "watch", "watches", ("leather", "brown", None), 12900),
    product("WATCH-TIT-DIVER", "Titanium dive watch", "watch", "watches", ("titanium", "blue", None), 79900),
    product("WATCH-STL-SLIM", "Slim steel watch", "watch", "watches", ("steel", "black", None), 15900),
    product("GIFT-25", "Gift card 25", "gift_card", "gift cards", ("digital", "none", None), 2500),
    product("GIFT-50", "Gift card 50", "gift_card", "gift cards", ("digital", "none", None), 5000),
    product("GIFT-100", "Gift card 100", "gift_card", "gift cards", ("digital", "none", None), 10000),
];

/// Ring sizes (French sizes, circumference in mm) and how common each is.
pub const RING_SIZES: &[(&str, u64)] =
    &[("48", 5), ("50", 12), ("52", 20), ("54", 22), ("56", 18), ("58", 12), ("60", 7), ("62", 4)];

/// One promo code; `campaign` is the index of the campaign it belongs to.
pub struct PromoCode {
    pub code: &'static str,
    pub description: &'static str,
    pub discount_type: &'static str,
    pub discount_value: i64,
    pub currency: Option<&'static str>,
    pub valid_from: Option<NaiveDateTime>,
    pub valid_until: Option<NaiveDateTime>,
    pub max_redemptions: Option<i64>,
    pub max_redemptions_per_customer: Option<i64>,
    pub min_subtotal: Option<i64>,
    pub campaign: Option<usize>,
    pub active: bool,
    /// How often it is tried while valid, relative to the others.
    pub popularity: u64,
}

/// Index of WELCOME10 in `promo_codes()`: first orders of new customers use it.
pub const WELCOME_CODE: usize = 0;

pub fn promo_codes() -> Vec<PromoCode> {
    let code = |code, description, discount_type, discount_value| PromoCode {
        code,
        description,
        discount_type,
        discount_value,
        currency: None,
        valid_from: Some(at(2023, 10, 1, 0, 0)),
        valid_until: None,
        max_redemptions: None,
        max_redemptions_per_customer: None,
        min_subtotal: None,
        campaign: None,
        active: true,
        popularity: 2,
    };
    vec![
        PromoCode {
            max_redemptions_per_customer: Some(1),
            popularity: 1,
            ..code("WELCOME10", "10% off a first order", "percent", 10)
        },
        PromoCode {
            min_subtotal: Some(15000),
            popularity: 1,
            ..code("THANKYOU15", "15% off from 150 for loyal customers", "percent", 15)
        },
        PromoCode {
            min_subtotal: Some(3000),
            popularity: 3,
            ..code("FREESHIP", "Free shipping from 30", "free_shipping", 0)
        },
        PromoCode {
            valid_from: Some(at(2023, 11, 24, 0, 0)),
            valid_until: Some(at(2023, 11, 28, 0, 0)),
            popularity: 12,
            ..code("BF2023", "Black Friday 2023", "percent", 20)
        },
        PromoCode {
            currency: Some("EUR"),
            min_subtotal: Some(6000),
            valid_from: Some(at(2024, 6, 15, 0, 0)),
            valid_until: Some(at(2024, 9, 1, 0, 0)),
            popularity: 6,
            ..code("SUMMER2024", "15 off from 60 (EUR), summer 2024", "fixed", 1500)
        },
        PromoCode {
            valid_from: Some(at(2024, 11, 29, 0, 0)),
            valid_until: Some(at(2024, 12, 3, 0, 0)),
            popularity: 12,
            ..code("BF2024", "Black Friday 2024", "percent", 20)
        },
        PromoCode {
            valid_from: Some(at(2025, 5, 10, 0, 0)),
            valid_until: Some(at(2025, 5, 13, 0, 0)),
            max_redemptions: Some(250),
            popularity: 30,
            ..code("FLASH30", "Flash sale: 30% off, 250 orders only", "percent", 30)
        },
        PromoCode {
            currency: Some("EUR"),
            min_subtotal: Some(6000),
            valid_from: Some(at(2025, 6, 15, 0, 0)),
            valid_until: Some(at(2025, 9, 1, 0, 0)),
            popularity: 6,
            ..code("SUMMER2025", "15 off from 60 (EUR), summer 2025", "fixed", 1500)
        },
        PromoCode {
            valid_from: Some(at(2025, 11, 24, 0, 0)),
            valid_until: Some(at(2025, 12, 2, 0, 0)),
            campaign: Some(0),
            popularity: 12,
            ..code("BLACKFRIDAY25", "Black Friday 2025: 25% off", "percent", 25)
        },
        PromoCode {
            valid_from: Some(at(2026, 2, 2, 0, 0)),
            valid_until: Some(at(2026, 2, 15, 0, 0)),
            campaign: Some(2),
            popularity: 4,
            ..code("LOVE15", "Valentine's Day 2026: 15% off", "percent", 15)
        },
        PromoCode {
            currency: Some("EUR"),
            min_subtotal: Some(8000),
            max_redemptions_per_customer: Some(1),
            valid_from: Some(at(2026, 9, 22, 0, 0)),
            valid_until: Some(at(2026, 10, 7, 0, 0)),
            campaign: Some(4),
            popularity: 2,
            ..code("COMEBACK20", "20 off from 80 (EUR) for lapsed customers", "fixed", 2000)
        },
        PromoCode { active: false, popularity: 0, ..code("STAFF40", "Staff discount (retired)", "percent", 40) },
    ]
}

/// Who a segment selects; each variant is written as segment rules and evaluated the
/// same way on the generated data.
#[derive(Debug, Clone)]
pub enum Audience {
    EmailSubscribers,
    MinOrders(i64),
    Tag(&'static str),
    Gender(&'static str),
    Language(&'static str),
    LastOrderBefore(NaiveDateTime),
}

impl Audience {
    pub fn rules(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Audience::EmailSubscribers => json!({"field": "consent.email", "op": "eq", "value": "subscribed"}),
            Audience::MinOrders(n) => json!({"field": "orders_count", "op": "gte", "value": n}),
            Audience::Tag(tag) => json!({"field": "tag", "op": "eq", "value": tag}),
            Audience::Gender(gender) => json!({"field": "gender", "op": "eq", "value": gender}),
            Audience::Language(language) => json!({"field": "preferred_language", "op": "eq", "value": language}),
            Audience::LastOrderBefore(time) => json!({"field": "last_order_at", "op": "before",
                "value": time.and_utc().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}),
        }
    }
}

pub struct Segment {
    pub name: &'static str,
    pub description: &'static str,
    pub audience: Audience,
    pub created_at: NaiveDateTime,
}

pub fn segments() -> Vec<Segment> {
    vec![
        Segment {
            name: "Newsletter subscribers",
            description: "Everyone who agreed to hear from us by email",
            audience: Audience::EmailSubscribers,
            created_at: at(2024, 1, 15, 10, 0),
        },
        Segment {
            name: "Repeat buyers",
            description: "Two orders or more",
            audience: Audience::MinOrders(2),
            created_at: at(2024, 3, 4, 14, 30),
        },
        Segment {
            name: "VIP customers",
            description: "Tagged vip by the shop team",
            audience: Audience::Tag("vip"),
            created_at: at(2024, 5, 20, 9, 15),
        },
        Segment {
            name: "French speakers",
            description: "Preferred language French",
            audience: Audience::Language("fr"),
            created_at: at(2025, 2, 11, 16, 45),
        },
        Segment {
            name: "Lapsed customers",
            description: "No order since April 2026",
            audience: Audience::LastOrderBefore(at(2026, 4, 1, 0, 0)),
            created_at: at(2026, 9, 15, 11, 0),
        },
    ]
}

pub struct Campaign {
    pub name: &'static str,
    pub channel: &'static str,
    /// A saved segment (index), or the campaign's own audience.
    pub segment: Option<usize>,
    pub audience: Audience,
    pub offer: Option<&'static str>,
    pub subject: Option<&'static str>,
    pub content: &'static str,
    /// Index of its shared promo code.
    pub promo: Option<usize>,
    pub holdout_percent: i64,
    pub attribution_window_days: i64,
    pub launched_at: NaiveDateTime,
}

/// The frequency cap every seeded campaign was launched with (the default one).
pub const CAP_MAX_CONTACTS: i64 = 3;
pub const CAP_PER_DAYS: i64 = 30;

pub fn campaigns() -> Vec<Campaign> {
    vec![
        Campaign {
            name: "Black Friday 2025",
            channel: "email",
            segment: Some(0),
            audience: Audience::EmailSubscribers,
            offer: Some("25% off everything until 1 December"),
            subject: Some("{{first_name}}, 25% off everything this week"),
            content: "Hello {{first_name}},\n\nBlack Friday is here: use {{promo_code}} for 25% off the whole shop \
                      until 1 December.\n\nhttps://shop.example/black-friday\n\nUnsubscribe: {{unsubscribe_url}}",
            promo: Some(8),
            holdout_percent: 10,
            attribution_window_days: 14,
            launched_at: at(2025, 11, 24, 8, 0),
        },
        Campaign {
            name: "Christmas gift guide 2025",
            channel: "email",
            segment: Some(1),
            audience: Audience::MinOrders(2),
            offer: None,
            subject: Some("Our Christmas gift guide"),
            content: "Hello {{first_name}},\n\nGifts for everyone on your list, wrapped for free.\n\n\
                      https://shop.example/gift-guide\n\nUnsubscribe: {{unsubscribe_url}}",
            promo: None,
            holdout_percent: 10,
            attribution_window_days: 21,
            launched_at: at(2025, 12, 4, 9, 0),
        },
        Campaign {
            name: "Valentine's Day 2026",
            channel: "email",
            segment: None,
            audience: Audience::Gender("male"),
            offer: Some("15% off until 14 February"),
            subject: Some("Valentine's Day: 15% off for {{first_name}}"),
            content: "Hello {{first_name}},\n\nFind the gift for Valentine's Day with {{promo_code}}: 15% off \
                      until 14 February.\n\nhttps://shop.example/valentine\n\nUnsubscribe: {{unsubscribe_url}}",
            promo: Some(9),
            holdout_percent: 15,
            attribution_window_days: 14,
            launched_at: at(2026, 2, 2, 8, 30),
        },
        Campaign {
            name: "VIP spring preview",
            channel: "sms",
            segment: Some(2),
            audience: Audience::Tag("vip"),
            offer: Some("Private preview of the spring collection"),
            subject: None,
            content: "{{first_name}}, our spring collection is online for you two days early: \
                      https://shop.example/preview",
            promo: None,
            holdout_percent: 5,
            attribution_window_days: 14,
            launched_at: at(2026, 3, 18, 10, 0),
        },
        Campaign {
            name: "Autumn comeback 2026",
            channel: "email",
            segment: Some(4),
            audience: Audience::LastOrderBefore(at(2026, 4, 1, 0, 0)),
            offer: Some("20 off from 80 until 6 October"),
            subject: Some("{{first_name}}, we miss you"),
            content: "Hello {{first_name}},\n\nOur autumn collection is here, and {{promo_code}} takes 20 off an \
                      order from 80 until 6 October.\n\nhttps://shop.example/autumn\n\nUnsubscribe: \
                      {{unsubscribe_url}}",
            promo: Some(10),
            holdout_percent: 20,
            attribution_window_days: 14,
            launched_at: at(2026, 9, 22, 8, 0),
        },
    ]
}

pub const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/129.0.0.0 Mobile Safari/537.36",
];

pub const NOTES: &[&str] = &[
    "Prefers delivery after 6 pm.",
    "Allergic to nickel: silver or gold only.",
    "Asked to be told when the emerald collection is back.",
    "Regular at the Marais shop.",
    "Buys for the whole family at Christmas.",
    "Wants gift wrapping on every order.",
];

pub const COMPANY_WORDS: &[&str] =
    &["Atelier", "Maison", "Studio", "Hôtel", "Galerie", "Boutique", "Events", "Design", "Conseil", "Group"];
