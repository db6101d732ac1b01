//! Splitting an expression string into tokens, each with its place in the string (for
//! DynamoDB's syntax errors, which name the token and the text around it).

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// A bare name or keyword: letters, digits and `_`, not starting with a digit.
    Word,
    /// `#name`: an expression attribute name.
    NamePlaceholder,
    /// `:name`: an expression attribute value.
    ValuePlaceholder,
    /// Digits (a list index).
    Number,
    /// `(`, `)`, `[`, `]`, `,`, `.`, `+`, `-`, `=`, `<>`, `<`, `<=`, `>`, `>=`.
    Symbol,
    /// A character no token starts with.
    Unknown,
    /// The end of the expression.
    End,
}

/// A token: its kind and where it is in the expression (byte offsets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// Its text in `source` (DynamoDB calls the end `<EOF>`).
    pub fn text<'a>(&self, source: &'a str) -> &'a str {
        match self.kind {
            Kind::End => "<EOF>",
            _ => &source[self.start..self.end],
        }
    }

    /// Whether it is the keyword `keyword` (keywords are not case-sensitive).
    pub fn is_keyword(&self, source: &str, keyword: &str) -> bool {
        self.kind == Kind::Word && self.text(source).eq_ignore_ascii_case(keyword)
    }

    /// Whether it is the symbol `symbol`.
    pub fn is(&self, source: &str, symbol: &str) -> bool {
        self.kind == Kind::Symbol && self.text(source) == symbol
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The tokens of `source`, ending with one [`Kind::End`]. Never fails: a character no
/// token starts with is a [`Kind::Unknown`] token, which the parser reports.
pub(super) fn tokens(source: &str) -> Vec<Token> {
    // About a token per two bytes: one allocation for most expressions.
    let mut tokens = Vec::with_capacity(source.len() / 2 + 2);
    let mut chars = source.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        if c.is_whitespace() {
            continue;
        }
        let mut end = start + c.len_utf8();
        let mut take_word = |end: &mut usize| {
            while let Some(&(at, next)) = chars.peek() {
                if !is_word_char(next) {
                    break;
                }
                *end = at + next.len_utf8();
                chars.next();
            }
        };
        let kind = match c {
            '#' => {
                take_word(&mut end);
                Kind::NamePlaceholder
            }
            ':' => {
                take_word(&mut end);
                Kind::ValuePlaceholder
            }
            c if c.is_ascii_digit() => {
                take_word(&mut end);
                if source[start..end].bytes().all(|b| b.is_ascii_digit()) {
                    Kind::Number
                } else {
                    Kind::Unknown
                }
            }
            c if is_word_char(c) => {
                take_word(&mut end);
                Kind::Word
            }
            '<' | '>' => {
                if let Some(&(at, next @ ('=' | '>'))) = chars.peek()
                    && (next == '=' || c == '<')
                {
                    end = at + next.len_utf8();
                    chars.next();
                }
                Kind::Symbol
            }
            '(' | ')' | '[' | ']' | ',' | '.' | '+' | '-' | '=' => Kind::Symbol,
            _ => Kind::Unknown,
        };
        tokens.push(Token { kind, start, end });
    }
    tokens.push(Token {
        kind: Kind::End,
        start: source.len(),
        end: source.len(),
    });
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(source: &str) -> Vec<(Kind, &str)> {
        tokens(source).iter().map(|t| (t.kind, t.text(source))).collect()
    }

    #[test]
    fn tokens_keep_their_text_and_kind() {
        assert_eq!(
            texts("#a.b[12] <> :v AND size(c)>=:w"),
            [
                (Kind::NamePlaceholder, "#a"),
                (Kind::Symbol, "."),
                (Kind::Word, "b"),
                (Kind::Symbol, "["),
                (Kind::Number, "12"),
                (Kind::Symbol, "]"),
                (Kind::Symbol, "<>"),
                (Kind::ValuePlaceholder, ":v"),
                (Kind::Word, "AND"),
                (Kind::Word, "size"),
                (Kind::Symbol, "("),
                (Kind::Word, "c"),
                (Kind::Symbol, ")"),
                (Kind::Symbol, ">="),
                (Kind::ValuePlaceholder, ":w"),
                (Kind::End, "<EOF>"),
            ]
        );
        assert_eq!(texts("a<b")[1], (Kind::Symbol, "<"));
        assert_eq!(texts("a<=b")[1], (Kind::Symbol, "<="));
        assert_eq!(texts("a><b")[1], (Kind::Symbol, ">"));
        assert_eq!(texts("a ; b")[1], (Kind::Unknown, ";"));
        assert_eq!(texts("1a")[0], (Kind::Unknown, "1a"));
        assert_eq!(texts("é")[0], (Kind::Unknown, "é"));
    }
}
