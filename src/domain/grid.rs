//! The four-level community grid (四级网络).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::text::Invalid;

/// A level of the grid, from the community root down to the party-member household.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    /// 社区党委: the community committee, root of a community's tree.
    Committee,
    /// 小区党支部: the party branch of a residential compound.
    Branch,
    /// 楼栋党小组: the party group of a building.
    Building,
    /// 党员中心户: a party-member household looking after ~10 neighbouring homes.
    Household,
}

impl Level {
    pub const ALL: [Level; 4] = [Level::Committee, Level::Branch, Level::Building, Level::Household];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Committee => "committee",
            Self::Branch => "branch",
            Self::Building => "building",
            Self::Household => "household",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Depth below the root: committee 0 … household 3.
    pub fn depth(self) -> u8 {
        match self {
            Self::Committee => 0,
            Self::Branch => 1,
            Self::Building => 2,
            Self::Household => 3,
        }
    }

    /// The level a parent must have; `None` for the root.
    pub fn parent_level(self) -> Option<Self> {
        match self {
            Self::Committee => None,
            Self::Branch => Some(Self::Committee),
            Self::Building => Some(Self::Branch),
            Self::Household => Some(Self::Building),
        }
    }

    /// Households, and the people behind them, are not public.
    pub fn is_public(self) -> bool {
        self != Self::Household
    }
}

/// Checks that a unit of `level` may hang under a parent of `parent_level`
/// (`None` = no parent): a committee has none, every other level's parent
/// is exactly one level up.
pub fn check_parent(level: Level, parent_level: Option<Level>) -> Result<(), Invalid> {
    match (level.parent_level(), parent_level) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(Invalid::new(
            "committee_has_no_parent",
            "A committee is the root of a community and has no parent.",
            "社区党委是社区的根节点，不能有上级。",
        )),
        (Some(_), None) => Err(Invalid::new(
            "required",
            "Every unit below the committee needs a parent one level up.",
            "社区党委以下的单元必须指定上一级单元。",
        )),
        (Some(expected), Some(actual)) if expected == actual => Ok(()),
        (Some(_), Some(_)) => Err(Invalid::new(
            "wrong_parent_level",
            "The parent must be exactly one level up (committee > branch > building > household).",
            "上级单元必须恰好高一级（社区党委 > 小区党支部 > 楼栋党小组 > 党员中心户）。",
        )),
    }
}

/// Materialised path of a unit: its ancestors' ids and its own, e.g. `/1/4/9/`.
pub fn child_path(parent_path: Option<&str>, id: i64) -> String {
    format!("{}{id}/", parent_path.unwrap_or("/"))
}

/// Whether the unit at `path` lies in the subtree rooted at `root_path`.
pub fn in_subtree(path: &str, root_path: &str) -> bool {
    path.starts_with(root_path)
}

/// Whether `path` is a materialised path as the server writes it (digits
/// and `/` only), and so safe to write into SQL as a literal.
pub fn is_server_path(path: &str) -> bool {
    !path.is_empty() && path.bytes().all(|b| b.is_ascii_digit() || b == b'/')
}

/// Id of the committee (community root) a path belongs to.
pub fn community_of(path: &str) -> Option<i64> {
    path.trim_start_matches('/')
        .split('/')
        .next()
        .and_then(|s| s.parse().ok())
}

super::stored::stored_as_text!(Level, "level");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_level_hangs_only_one_level_below_its_parent() {
        for level in Level::ALL {
            for parent in Level::ALL.map(Some).into_iter().chain([None]) {
                let ok = match parent {
                    None => level == Level::Committee,
                    Some(p) => p.depth() + 1 == level.depth(),
                };
                assert_eq!(check_parent(level, parent).is_ok(), ok, "{level:?} under {parent:?}");
            }
        }
    }

    #[test]
    fn levels_round_trip_through_their_names() {
        for level in Level::ALL {
            assert_eq!(Level::parse(level.as_str()), Some(level));
        }
        assert_eq!(Level::parse("street"), None);
    }

    #[test]
    fn paths_nest_and_name_their_community() {
        let committee = child_path(None, 1);
        let branch = child_path(Some(&committee), 4);
        let building = child_path(Some(&branch), 9);
        assert_eq!(building, "/1/4/9/");
        assert!(in_subtree(&building, &branch));
        assert!(in_subtree(&branch, &branch));
        assert!(!in_subtree(&branch, &building));
        // `/1/4/` must not contain `/1/40/`.
        assert!(!in_subtree("/1/40/", "/1/4/"));
        assert_eq!(community_of(&building), Some(1));
        assert!(is_server_path(&building));
        assert!(!is_server_path("") && !is_server_path("/1/' OR 1=1 --"));
    }
}
