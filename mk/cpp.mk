# C++: the comparison kernel's GoogleTest suite (the LibTorch client joins it in issue 3).

.PHONY: setup-cpp test-cpp demo-cpp

setup-cpp:

test-cpp: setup
	cmake -S . -B $(CPP_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEPLOYKIT_BUILD_CLIENT=OFF >/dev/null
	cmake --build $(CPP_BUILD)
	ctest --test-dir $(CPP_BUILD) --output-on-failure

demo-cpp:
