// Package settings finds tokengate's variables where Brevia finds its own.
//
// Brevia reads its settings with pydantic-settings: each one from the
// environment if it is set there, else from a .env file in the working
// directory, read by python-dotenv; names match whatever their case. Servers
// and create_token must see the same secret as Brevia does from the same
// files, so Load does the same, and ParseDotEnv reads .env as python-dotenv
// 1.x does: quotes, escapes, inline comments, ${VAR} expansion and a bare
// $VAR left as it is. Its code follows python-dotenv's parser.py and
// main.py function by function, under the same names, so that the two can
// be compared side by side.
//
// Where Brevia would quietly pick a value, or ignore a line, in a way that
// could leave authentication weaker than intended (a name set twice, in any
// spellings, with different values; a malformed line naming a variable; a
// name that is a variable's with other characters; a quoted value left open
// over a line that sets one; an unreadable .env), Load returns an error
// instead, to be reported at startup.
package settings
