//! The names the rollups count automated traffic under: the layer that caught a request and
//! the kind of client it came from. Stored by these names, so a day written today reads the
//! same after the lists change.

/// The layer of bot detection that decided, in the order they are asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Layer {
    /// The maintained crawler list, `bot_patterns`, a `+http` URL or no User-Agent at all.
    List,
    /// No mark of a browser (`filters.not_a_browser`).
    NotABrowser,
    /// What the visitor did that day (`[filters.behaviour]`).
    Behaviour,
}

impl Layer {
    pub const ALL: [Layer; 3] = [Layer::List, Layer::NotABrowser, Layer::Behaviour];

    /// The name the rollups and `metrics --json` use.
    pub fn name(self) -> &'static str {
        match self {
            Layer::List => "crawler_list",
            Layer::NotABrowser => "not_a_browser",
            Layer::Behaviour => "behaviour",
        }
    }

    /// The name people read.
    pub fn words(self) -> &'static str {
        match self {
            Layer::List => "crawler list",
            Layer::NotABrowser => "not a browser",
            Layer::Behaviour => "behaviour",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// The kind of automated client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Category {
    Search,
    Ai,
    Seo,
    Monitor,
    Feed,
    Preview,
    Library,
    Unknown,
}

impl Category {
    pub const ALL: [Category; 8] = [
        Category::Search,
        Category::Ai,
        Category::Seo,
        Category::Monitor,
        Category::Feed,
        Category::Preview,
        Category::Library,
        Category::Unknown,
    ];

    /// The name the rollups and `metrics --json` use.
    pub fn name(self) -> &'static str {
        match self {
            Category::Search => "search_engines",
            Category::Ai => "ai_crawlers",
            Category::Seo => "seo_tools",
            Category::Monitor => "monitors",
            Category::Feed => "feed_readers",
            Category::Preview => "link_previews",
            Category::Library => "libraries_and_scripts",
            Category::Unknown => "unknown_automated",
        }
    }

    /// The name people read.
    pub fn words(self) -> &'static str {
        match self {
            Category::Search => "search engines",
            Category::Ai => "AI crawlers",
            Category::Seo => "SEO tools",
            Category::Monitor => "monitors",
            Category::Feed => "feed readers",
            Category::Preview => "link previews",
            Category::Library => "libraries and scripts",
            Category::Unknown => "unknown automated",
        }
    }

    pub fn from_name(name: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.name() == name)
    }

    pub fn index(self) -> usize {
        self as usize
    }
}
