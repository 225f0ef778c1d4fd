from source_partoo.run import run

if __name__ == "__main__":
    run()
