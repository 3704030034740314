package wire_test

import (
	"fmt"

	"github.com/tokengate/tokengate/wire"
)

func ExampleMethodSet() {
	status := wire.NewMethodSet(wire.DefaultStatusMethods...)
	fmt.Println(status.Contains("/grpc.health.v1.Health/Check"))
	fmt.Println(status.Contains("/tokengate.v1.EchoService/UnaryEcho"))
	// Output:
	// true
	// false
}
