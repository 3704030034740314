package token_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/tokengate/tokengate/token"
)

// Sign makes the same token Brevia's create_token makes for the same user,
// expiry and secret.
func ExampleSign() {
	tok, err := token.Sign([]byte("secretsecretsecret"), token.Claims{
		User:      "gustavo",
		ExpiresAt: time.Unix(1700000000, 0),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(tok)
	// Output:
	// eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiZ3VzdGF2byIsImV4cCI6MTcwMDAwMDAwMH0.DKh8eCLLt3pPhzMNwbvKrD-xjSGdjHNmYovPoR-xrnM
}

func ExampleNewVerifier() {
	// A fixed clock replays the token at a known time; leave WithClock out
	// to use time.Now.
	clock := func() time.Time { return time.Unix(1699999000, 0) }
	v, err := token.NewVerifier([]byte("secretsecretsecret"),
		token.WithUsers("gustavo", "brevia"),
		token.WithClock(clock),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	verified, err := v.Verify("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiZ3VzdGF2byIsImV4cCI6MTcwMDAwMDAwMH0.DKh8eCLLt3pPhzMNwbvKrD-xjSGdjHNmYovPoR-xrnM")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(verified.User(), verified.Claims().ExpiresAt.UTC())
	// Output:
	// gustavo 2023-11-14 22:13:20 +0000 UTC
}

// During a rotation, tokens signed with the old secret keep working until
// the old secret is dropped from WithPreviousSecrets.
func ExampleWithPreviousSecrets() {
	oldSecret := []byte("the secret we used until today")
	newSecret := []byte("the secret we use from today on")
	now := time.Unix(1700000000, 0)
	clock := token.WithClock(func() time.Time { return now })

	old, _, err := token.Issue(oldSecret, "gustavo", time.Hour, now)
	if err != nil {
		fmt.Println(err)
		return
	}

	during, _ := token.NewVerifier(newSecret, token.WithPreviousSecrets(oldSecret), clock)
	after, _ := token.NewVerifier(newSecret, clock)

	if verified, err := during.Verify(old); err == nil {
		fmt.Println("during rotation:", verified.User())
	}
	if _, err := after.Verify(old); err != nil {
		fmt.Println("after rotation:", err)
	}
	// Output:
	// during rotation: gustavo
	// after rotation: token: signature does not match
}

// Every failure is a sentinel error, to tell apart with errors.Is.
func ExampleVerifier_Verify_expired() {
	secret := []byte("secretsecretsecret")
	oneSecondLate := time.Unix(1700000001, 0)
	v, err := token.NewVerifier(secret, token.WithClock(func() time.Time { return oneSecondLate }))
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = v.Verify("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiZ3VzdGF2byIsImV4cCI6MTcwMDAwMDAwMH0.DKh8eCLLt3pPhzMNwbvKrD-xjSGdjHNmYovPoR-xrnM")
	switch {
	case errors.Is(err, token.ErrExpired):
		fmt.Println("expired: ask for a new token")
	case err != nil:
		fmt.Println("rejected:", err)
	}
	// Output:
	// expired: ask for a new token
}

// A VerifiedToken is what a server hands on to the code serving the call:
// the user, and the claims for anything more. It is cheap to keep: a token
// seen again is answered from the cache without a copy.
func ExampleVerifier_Verify() {
	clock := func() time.Time { return time.Unix(1699999000, 0) }
	v, err := token.NewVerifier([]byte("secretsecretsecret"), token.WithClock(clock))
	if err != nil {
		fmt.Println(err)
		return
	}
	const tok = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyIjoiZ3VzdGF2byIsImV4cCI6MTcwMDAwMDAwMH0.DKh8eCLLt3pPhzMNwbvKrD-xjSGdjHNmYovPoR-xrnM"
	verified, err := v.Verify(tok)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(verified.User(), verified.Claims().ExpiresAt.Unix())
	// Output:
	// gustavo 1700000000
}
